"""OpenAI-compatible chat completions over HTTP (OpenAI, vLLM, Ollama, DeepSeek, Qwen...).

One POST to ``{base_url}/chat/completions`` per call. The API key comes from an environment
variable (``api_key_env``) or is passed explicitly; it is never logged: ``repr`` and every error
message go through ``redact``. ``transport`` is the seam tests use (an ``httpx`` transport).
Statuses 408/409/429/5xx, timeouts and connection errors raise ``RetryableError`` (with the
server's ``Retry-After``); other statuses and unreadable bodies raise ``LLMError``.
"""

from __future__ import annotations

import os
from typing import Any

from ..errors import LLMError, MissingDependency
from .peer_check import checked_client, current_check
from .reasoning import split_reasoning
from .retry_after import parse_retry_after
from .types import ChatMessages, Completion, RetryableError, Usage

__all__ = ["OpenAIHTTPProvider", "redact"]

_RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


def redact(text: str, secret: str | None) -> str:
    """``text`` with every occurrence of ``secret`` replaced (keys echoed back by servers too)."""
    if secret and len(secret) >= 4:
        return text.replace(secret, "***")
    return text


class OpenAIHTTPProvider:
    """Chat completions against any OpenAI-compatible ``base_url``."""

    name = "openai"

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        api_key_env: str | None = None,
        timeout: float = 60.0,
        headers: dict[str, str] | None = None,
        transport: Any = None,
    ) -> None:
        try:
            import httpx
        except ImportError as exc:  # pragma: no cover - httpx is in the [llm] extra
            raise MissingDependency("httpx", "llm", "calling an OpenAI-compatible API") from exc
        if api_key is None and api_key_env:
            api_key = os.environ.get(api_key_env)
            if not api_key:
                raise LLMError(
                    f"the environment variable {api_key_env} holding the API key is not set.",
                    hint=f"export {api_key_env}=... (or pass --api-key-env with another name)",
                )
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.timeout = timeout
        self._key = api_key
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        if api_key:
            hdrs["Authorization"] = f"Bearer {api_key}"
        check = current_check()
        if transport is None and check is not None:  # a studio run: check each connection's peer
            self._client = checked_client(check, timeout=httpx.Timeout(timeout), headers=hdrs)
        else:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(timeout), headers=hdrs, transport=transport
            )

    def __repr__(self) -> str:
        key = "***" if self._key else None
        return (
            f"OpenAIHTTPProvider(base_url={self.base_url!r}, model={self.model!r}, api_key={key!r})"
        )

    async def complete(self, messages: ChatMessages, **params: Any) -> Completion:
        import httpx

        body = {"model": self.model, "messages": messages, **params}
        url = f"{self.base_url}/chat/completions"
        try:
            resp = await self._client.post(url, json=body)
        except httpx.TimeoutException as exc:
            raise RetryableError(f"timeout after {self.timeout:g}s calling {url}") from exc
        except httpx.TransportError as exc:
            msg = redact(f"connection error calling {url}: {exc}", self._key)
            raise RetryableError(msg) from exc
        if resp.status_code != 200:
            detail = redact(resp.text[:300], self._key)
            msg = f"HTTP {resp.status_code} from {url}: {detail}"
            if resp.status_code in _RETRY_STATUS:
                ra = parse_retry_after(resp.headers.get("retry-after"))
                raise RetryableError(msg, status=resp.status_code, retry_after=ra)
            hint = "check the API key variable" if resp.status_code in (401, 403) else None
            raise LLMError(msg, hint=hint)
        return self._parse(resp, url)

    def _parse(self, resp: Any, url: str) -> Completion:
        try:
            data = resp.json()
            choice = data["choices"][0]
            msg = choice["message"]
            content = msg.get("content")
            content = "" if content is None else content
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            # a proxy's half-written body is worth another try
            raise RetryableError(
                f"unreadable reply from {url}: {redact(resp.text[:200], self._key)!r}"
            ) from exc
        content = _content_text(content, msg.get("tool_calls"), url)
        field = msg.get("reasoning_content") or msg.get("reasoning")
        text, reasoning = split_reasoning(content, field if isinstance(field, str) else None)
        return Completion(
            text=text,
            reasoning=reasoning,
            usage=Usage.from_dict(data.get("usage")),
            raw={
                "content": content,
                "reasoning": field,
                "finish_reason": choice.get("finish_reason"),
            },
        )

    async def aclose(self) -> None:
        await self._client.aclose()


def _is_text_part(part: Any) -> bool:
    return (
        isinstance(part, dict)
        and part.get("type") in ("text", "output_text")
        and isinstance(part.get("text"), str)
    )


def _content_text(content: Any, tool_calls: Any, url: str) -> str:
    """The answer's text. A list of text parts is joined; a number, an object, a part that is not
    text, or an answer made only of tool calls fails the call with a reason (not retried: the
    same prompt would get the same kind of answer)."""
    if isinstance(content, str):
        text = content
    elif isinstance(content, list):
        other = [p for p in content if not _is_text_part(p)]
        if other:
            kind = other[0].get("type") if isinstance(other[0], dict) else type(other[0]).__name__
            raise LLMError(
                f"the answer from {url} holds a content part of type {kind!r}, not text.",
                hint="sftforge keeps text answers only; ask the model for text",
            )
        text = "".join(p["text"] for p in content)
    else:
        raise LLMError(
            f"the answer's content from {url} is {type(content).__name__} "
            f"({str(content)[:40]}), not text.",
            hint="the server does not follow the OpenAI chat format; check base_url and model",
        )
    if not text.strip() and isinstance(tool_calls, list) and tool_calls:
        names = [
            str((tc.get("function") or {}).get("name")) if isinstance(tc, dict) else "?"
            for tc in tool_calls
        ]
        raise LLMError(
            f"the answer holds only tool calls ({', '.join(names)}) and no text.",
            hint="a training answer needs text: leave tools out of the request, or add a "
            "tool-result turn to the sample first",
        )
    return text
