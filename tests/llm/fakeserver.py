"""A fake OpenAI-compatible server on loopback for the llm and generate tests.

``FakeServer`` answers ``POST /v1/chat/completions``. Each request is logged with its arrival
time. What it answers is scripted: ``rules`` is a list of ``(substring, replies)``; the first
rule whose substring occurs in the request's messages is used, and its replies are served in
order (the last one repeats). Without a matching rule the answer is ``default(body)``.
A reply is a ``Reply`` (status, content or raw body, headers, delay before answering).
Runs standalone too (``python fakeserver.py PORTFILE``) for subprocess tests.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    content: Any = "ok"  # a string, or anything JSON (a number, a list of parts) for odd servers
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    raw: str | None = None  # a raw body instead of the JSON envelope (malformed replies)
    reasoning: str | None = None  # sent as reasoning_content
    usage: dict[str, int] | None = None
    tool_calls: list[dict[str, Any]] | None = None


def _default(body: dict[str, Any]) -> Reply:
    last = body["messages"][-1]["content"]
    return Reply(content=f"ANSWER: {last}")


@dataclass
class LoggedRequest:
    t: float
    body: dict[str, Any]
    headers: dict[str, str]

    @property
    def text(self) -> str:
        return "\n".join(str(m.get("content")) for m in self.body.get("messages", []))


class FakeServer:
    def __init__(self) -> None:
        self.rules: list[tuple[str, list[Reply]]] = []
        self.default: Callable[[dict[str, Any]], Reply] = _default
        self.log: list[LoggedRequest] = []
        self._served: dict[int, int] = {}
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                return

            def do_POST(self) -> None:
                n = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(n))
                reply = server._pick(body, dict(self.headers))
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.raw is not None:
                    payload = reply.raw.encode()
                else:
                    msg: dict[str, Any] = {"role": "assistant", "content": reply.content}
                    if reply.tool_calls is not None:
                        msg["tool_calls"] = reply.tool_calls
                    if reply.reasoning is not None:
                        msg["reasoning_content"] = reply.reasoning
                    payload = json.dumps(
                        {
                            "id": "x",
                            "object": "chat.completion",
                            "model": body.get("model"),
                            "choices": [{"index": 0, "message": msg, "finish_reason": "stop"}],
                            "usage": reply.usage
                            or {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
                        }
                    ).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(payload)))
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and left

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def _pick(self, body: dict[str, Any], headers: dict[str, str]) -> Reply:
        req = LoggedRequest(time.monotonic(), body, headers)
        with self._lock:
            self.log.append(req)
            for i, (needle, replies) in enumerate(self.rules):
                if needle in req.text:
                    k = self._served.get(i, 0)
                    self._served[i] = k + 1
                    return replies[min(k, len(replies) - 1)]
        return self.default(body)

    def add(self, needle: str, *replies: Reply) -> None:
        self.rules.append((needle, list(replies)))

    def count(self, needle: str) -> int:
        return sum(1 for r in self.log if needle in r.text)

    def start(self) -> FakeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
