"""paraphrase and translate: new wordings of instructions, with a similarity guard.

``translate`` translates a sample's turns (user turns; also the answers with
``answers: true``) between Chinese and English (``target: auto`` flips the detected language),
then translates the user turns back and keeps the sample only if the round trip is close to the
original (ROUGE-L ≥ ``min_round_trip``; ``None`` skips the check).

``paraphrase`` rewrites the user turns in the same language (``method: rewrite``) or by a round
trip through the other language (``method: round_trip``), keeps the answers, and keeps the
sample only if every rewritten turn has ROUGE-L against the original within
[``min_rouge``, ``max_rouge``]: above the top it barely changed, below the bottom it drifted.

Both record the call that wrote the first new turn in ``meta["llm"]`` (model, prompt, response,
usage: ``llm_meta``), as the other generators do, so a new sample says which model and prompt
made it; the answers a paraphrase keeps are the original's, so ``answer_from`` is not set.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from ..errors import RecipeError
from ..llm.client import LLMClient
from ..llm.types import ChatMessages, Completion
from ..sample import Sample
from .base import Generator, llm_meta, register_generator
from .prompts import detect_lang
from .rouge import rouge_l

__all__ = ["Paraphrase", "Translate"]

_LANG_NAMES = {
    "en": {"en": "English", "zh": "Chinese (Simplified)"},
    "zh": {"en": "英文", "zh": "中文"},
}


def _other(lang: str) -> str:
    return "en" if lang == "zh" else "zh"


_Call = tuple[ChatMessages, Completion]  # one call's prompt and answer


async def _translate(
    gen: Generator, client: LLMClient, text: str, src: str, dst: str
) -> tuple[str, _Call]:
    prompt = gen.render("translate.to", src, target=_LANG_NAMES[src][dst], text=text)
    msgs, comp = await gen.ask(client, prompt)
    return comp.text.strip(), (msgs, comp)


def _record(gen: Generator, client: LLMClient, meta: dict[str, Any], call: _Call | None) -> None:
    """``meta["llm"]``: the model, prompt and answer of the call that wrote the first turn."""
    if call is not None:
        meta["llm"] = llm_meta(gen.task, client, *call)["llm"]


@register_generator
@dataclass(kw_only=True)
class Translate(Generator):
    task = "translate"
    calls_per_item = 3.0

    target: str = "auto"  # auto (zh <-> en), en or zh
    answers: bool = True
    min_round_trip: float | None = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.target not in ("auto", "en", "zh"):
            raise RecipeError(f"translate target must be auto, en or zh, not {self.target!r}")

    async def process(self, client: LLMClient, item: Sample) -> list[Sample]:
        src = detect_lang(item.prompt_text)
        dst = _other(src) if self.target == "auto" else self.target
        out = copy.deepcopy(item)
        scores = []
        first: _Call | None = None
        for m in out.messages:
            if m.role == "user" or (self.answers and m.role in ("assistant", "system")):
                original = m.content
                m.content, call = await _translate(self, client, original, src, dst)
                first = first or call
                m.reasoning = None  # reasoning is not translated: drop rather than mix languages
                if m.role == "user" and self.min_round_trip is not None:
                    back, _ = await _translate(self, client, m.content, dst, src)
                    scores.append(rouge_l(original, back))
        out.meta.update(
            generator=self.task, translated_from=item.id, source_lang=src, target_lang=dst,
            human_verified=False, model=client.model,
        )  # fmt: skip
        _record(self, client, out.meta, first)
        if scores:
            out.meta.setdefault("stats", {})["round_trip_rouge"] = round(min(scores), 4)
        out.id = f"{item.id}-{dst}"
        if self.min_round_trip is not None and scores and min(scores) < self.min_round_trip:
            self.drop(
                out,
                f"round trip ROUGE-L {min(scores):.2f} below {self.min_round_trip}",
                min(scores),
            )
            return []
        return [out]


@register_generator
@dataclass(kw_only=True)
class Paraphrase(Generator):
    task = "paraphrase"
    calls_per_item = 1.0

    method: str = "rewrite"  # rewrite | round_trip
    min_rouge: float = 0.2
    max_rouge: float = 0.9

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.method not in ("rewrite", "round_trip"):
            raise RecipeError(
                f"paraphrase method must be rewrite or round_trip, not {self.method!r}"
            )

    def calls_estimate(self) -> float:
        return 2.0 if self.method == "round_trip" else 1.0

    async def _one(self, client: LLMClient, text: str) -> tuple[str, _Call]:
        """The new wording of ``text`` and the call that wrote it (a round trip's way back)."""
        lang = self.lang_for(text)
        if self.method == "round_trip":
            pivot, _ = await _translate(self, client, text, lang, _other(lang))
            return await _translate(self, client, pivot, _other(lang), lang)
        msgs, comp = await self.ask(client, self.render("paraphrase.rewrite", lang, text=text))
        return comp.text.strip(), (msgs, comp)

    async def process(self, client: LLMClient, item: Sample) -> list[Sample]:
        out = copy.deepcopy(item)
        scores: list[float] = []
        first: _Call | None = None
        for m in out.messages:
            if m.role == "user":
                new, call = await self._one(client, m.content)
                first = first or call
                scores.append(rouge_l(m.content, new))
                m.content = new
        meta: dict[str, Any] = {
            "generator": self.task, "paraphrase_of": item.id, "paraphrase_method": self.method,
            "instruction_from": "llm", "human_verified": False, "model": client.model,
        }  # fmt: skip
        out.meta.update(meta)
        _record(self, client, out.meta, first)
        out.meta.setdefault("stats", {})["paraphrase_rouge"] = round(min(scores or [0.0]), 4)
        out.id = f"{item.id}-p"
        lo, hi = min(scores or [0.0]), max(scores or [0.0])
        if hi > self.max_rouge:
            self.drop(out, f"too close to the original (ROUGE-L {hi:.2f} > {self.max_rouge})", hi)
            return []
        if lo < self.min_rouge:
            self.drop(out, f"drifted from the original (ROUGE-L {lo:.2f} < {self.min_rouge})", lo)
            return []
        return [out]
