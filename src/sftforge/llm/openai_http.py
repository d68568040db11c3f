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
            content = msg.get("content") or ""
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            # a proxy's half-written body is worth another try
            raise RetryableError(
                f"unreadable reply from {url}: {redact(resp.text[:200], self._key)!r}"
            ) from exc
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
