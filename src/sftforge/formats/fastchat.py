"""FastChat / Vicuna: ``{"id", "conversations": [{"from": "human"|"gpt", "value"}]}``.

ShareGPT restricted to what FastChat's trainer reads: human and gpt turns, no system prompt, no
tools, no media. The ``id`` is always written (a content id when the input had none).
"""

from __future__ import annotations

from typing import Any

from ..sample import Sample
from .base import LossLog, register_format
from .sharegpt import ShareGPTFormat

__all__ = ["FastChatFormat"]

_OFF: dict[str, str | None] = {
    k: None
    for k in ("system", "tools", "images", "videos", "audios", "chosen", "rejected", "kto_tag")
}


@register_format
class FastChatFormat(ShareGPTFormat):
    name = "fastchat"

    def __init__(self) -> None:
        super().__init__(
            columns=_OFF,
            tags={"observation_tag": None, "function_tag": None, "system_tag": None},
            ranking=False,
        )

    def detect(self, value: Any) -> float:
        if type(value) is not dict or "id" not in value:
            return 0.0
        conv = value.get("conversations")
        if type(conv) is not list or not conv:
            return 0.0
        if set(value) - {"id", "conversations"}:
            return 0.3
        ok = all(type(t) is dict and t.get("from") in ("human", "gpt") for t in conv)
        return 0.92 if ok else 0.1

    def dump(self, sample: Sample, loss: LossLog) -> Any:
        out = super().dump(sample, loss)
        return {"id": sample.id, **{k: v for k, v in out.items() if k != "id"}}
