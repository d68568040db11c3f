"""backtranslate: instructions for human-written documents, then self-curation (Humpback).

Self-augmentation: for each document, the model writes the instruction the text would answer.
Self-curation: the model scores the (instruction, text) pair from 1 to 5 with Humpback's rubric;
pairs scoring below ``threshold`` are dropped to the rejects with their score. The answer is the
document itself (``answer_from: "document"``, ``instruction_from: "llm"``); the curation score is
``meta["stats"]["curation_score"]``. Documents shorter than ``min_chars`` or longer than
``max_chars`` are dropped (Humpback uses passages, not whole books).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..llm.client import LLMClient
from ..sample import Document, Message, Sample
from .base import Generator, llm_meta, register_generator

__all__ = ["BackTranslate"]

_SCORE = {
    "type": "object",
    "required": ["score"],
    "properties": {
        "score": {"type": "integer", "minimum": 1, "maximum": 5},
        "reason": {"type": "string"},
    },
}


@register_generator
@dataclass(kw_only=True)
class BackTranslate(Generator):
    task = "backtranslate"
    input_kind = "document"
    calls_per_item = 2.0

    threshold: int = 4
    min_chars: int = 20
    max_chars: int = 4000

    def item_from_dict(self, d: dict[str, Any]) -> Any:
        return Document.from_dict(d)

    async def process(self, client: LLMClient, item: Document) -> list[Sample]:
        text = item.text.strip()
        base_meta = {"doc_id": item.id, "source": item.meta.get("source")}
        if not (self.min_chars <= len(text) <= self.max_chars):
            probe = Sample(
                messages=[Message("user", "(none)"), Message("assistant", text or "(empty)")]
            )
            probe.meta = {"generator": self.task, **base_meta}
            self.drop(
                probe, f"document length {len(text)} outside {self.min_chars}..{self.max_chars}"
            )
            return []
        lang = self.lang_for(text)
        msgs, comp = await self.ask(
            client, self.render("backtranslate.instruction", lang, document=text)
        )
        instruction = comp.text.strip()
        ask = self.render("backtranslate.curate", lang, instruction=instruction, answer=text)
        score, cmsgs, ccomp = await self.ask_json(client, ask, _SCORE, lang)
        meta = llm_meta(self.task, client, msgs, comp, **base_meta)
        meta.update(
            answer_from="document",
            instruction_from="llm",
            curation={"prompt": cmsgs, "response": ccomp.text, "reason": score.get("reason", "")},
            stats={"curation_score": score["score"]},
        )
        sample = Sample(
            messages=[Message("user", instruction), Message("assistant", text)], meta=meta
        )
        if score["score"] < self.threshold:
            self.drop(
                sample, f"curation score {score['score']} below {self.threshold}", score["score"]
            )
            return []
        return [sample]
