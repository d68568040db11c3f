"""A local ``transformers`` causal LM as a provider (CPU or GPU), for offline generation.

``transformers`` and ``torch`` are imported only when a local provider is built. Generation
renders the messages with the tokenizer's chat template through sftforge's sandboxed, bounded
renderer (``chat.render.render_messages``: the one template path training, ``tokenize`` and
``sftforge chat`` use; a plain ``role: content`` layout when the tokenizer has none), runs in a worker thread so the async interface stays responsive, and holds a lock:
one generation at a time per model. ``<think>`` blocks are split like remote answers.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from ..errors import LLMError, MissingDependency
from .reasoning import split_reasoning
from .types import ChatMessages, Completion, Usage

__all__ = ["LocalProvider"]


class LocalProvider:
    """Generate with a local model folder (``model``) or already-loaded ``model_obj``/``tokenizer``."""

    name = "local"

    def __init__(
        self,
        model: str,
        *,
        device: str | None = None,
        model_obj: Any = None,
        tokenizer: Any = None,
        dtype: str | None = None,
    ) -> None:
        self.model = model
        self.device = device
        self._model = model_obj
        self._tok = tokenizer
        self._dtype = dtype
        self._lock = threading.Lock()

    def _load(self) -> None:
        if self._model is not None and self._tok is not None:
            return
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:
            raise MissingDependency("transformers", "local", "a local model provider") from exc
        device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        try:
            if self._tok is None:
                self._tok = AutoTokenizer.from_pretrained(self.model, local_files_only=True)
            if self._model is None:
                dtype = getattr(torch, self._dtype) if self._dtype else "auto"
                loaded: Any = AutoModelForCausalLM.from_pretrained(
                    self.model, local_files_only=True, torch_dtype=dtype
                )
                self._model = loaded.to(device)
        except OSError as exc:
            raise LLMError(
                f"cannot load the local model '{self.model}': {exc}",
                hint="pass a folder holding config.json, the weights and the tokenizer files",
            ) from exc
        self.device = device

    def _render(self, messages: ChatMessages) -> str:
        from ..chat.encode import special_tokens_of
        from ..chat.render import render_messages
        from ..chat.templates import resolve_template

        tok = self._tok
        if getattr(tok, "chat_template", None):
            template = resolve_template(None, tok)
            text, _ = render_messages(
                [dict(m) for m in messages],
                template,
                special_tokens=special_tokens_of(tok),
                add_generation_prompt=True,
            )
            return text
        lines = [f"{m['role']}: {m['content']}" for m in messages]
        return "\n".join([*lines, "assistant: "])

    def _generate(self, messages: ChatMessages, params: dict[str, Any]) -> Completion:
        import torch

        with self._lock:
            self._load()
            prompt = self._render(messages)
            enc = self._tok(prompt, return_tensors="pt", add_special_tokens=False)
            enc = {k: v.to(self._model.device) for k, v in enc.items()}
            temperature = float(params.get("temperature") or 0.0)
            gen: dict[str, Any] = {
                "max_new_tokens": int(params.get("max_tokens") or 256),
                "do_sample": temperature > 0,
                "pad_token_id": self._tok.pad_token_id
                if self._tok.pad_token_id is not None
                else self._tok.eos_token_id,
            }
            if temperature > 0:
                gen["temperature"] = temperature
                gen["top_p"] = float(params.get("top_p") or 1.0)
                if params.get("seed") is not None:
                    torch.manual_seed(int(params["seed"]))
            with torch.no_grad():
                out = self._model.generate(**enc, **gen)
            n_in = int(enc["input_ids"].shape[1])
            new = out[0][n_in:]
            text = self._tok.decode(new, skip_special_tokens=True)
        answer, reasoning = split_reasoning(text)
        return Completion(
            text=answer,
            reasoning=reasoning,
            usage=Usage(n_in, int(new.shape[0])),
            raw={"content": text},
        )

    async def complete(self, messages: ChatMessages, **params: Any) -> Completion:
        return await asyncio.to_thread(self._generate, messages, params)

    async def aclose(self) -> None:
        return None
