"""paraphrase and translate: new wordings of instructions, with a similarity guard.

``translate`` translates a sample's turns (user turns; also the answers with
``answers: true``) between Chinese and English (``target: auto`` flips the detected language),
then translates the user turns back and keeps the sample only if the round trip is close to the
original (ROUGE-L ≥ ``min_round_trip``; ``None`` skips the check).

``paraphrase`` rewrites the user turns in the same language (``method: rewrite``) or by a round
trip through the other language (``method: round_trip``), keeps the answers, and keeps the
sample only if every rewritten turn has ROUGE-L against the original within
[``min_rouge``, ``max_rouge``]: above the top it barely changed, below the bottom it drifted.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from ..errors import RecipeError
from ..llm.client import LLMClient
from ..sample import Sample
from .base import Generator, register_generator
from .prompts import detect_lang
from .rouge import rouge_l

__all__ = ["Paraphrase", "Translate"]

_LANG_NAMES = {
    "en": {"en": "English", "zh": "Chinese (Simplified)"},
    "zh": {"en": "英文", "zh": "中文"},
}


def _other(lang: str) -> str:
    return "en" if lang == "zh" else "zh"


async def _translate(gen: Generator, client: LLMClient, text: str, src: str, dst: str) -> str:
    prompt = gen.render("translate.to", src, target=_LANG_NAMES[src][dst], text=text)
    _, comp = await gen.ask(client, prompt)
    return comp.text.strip()


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
        for m in out.messages:
            if m.role == "user" or (self.answers and m.role in ("assistant", "system")):
                original = m.content
                m.content = await _translate(self, client, original, src, dst)
                m.reasoning = None  # reasoning is not translated: drop rather than mix languages
                if m.role == "user" and self.min_round_trip is not None:
                    back = await _translate(self, client, m.content, dst, src)
                    scores.append(rouge_l(original, back))
        out.meta.update(
            generator=self.task, translated_from=item.id, source_lang=src, target_lang=dst,
            human_verified=False, model=client.model,
        )  # fmt: skip
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

    async def _one(self, client: LLMClient, text: str) -> str:
        lang = self.lang_for(text)
        if self.method == "round_trip":
            pivot = await _translate(self, client, text, lang, _other(lang))
            return await _translate(self, client, pivot, _other(lang), lang)
        _, comp = await self.ask(client, self.render("paraphrase.rewrite", lang, text=text))
        return comp.text.strip()

    async def process(self, client: LLMClient, item: Sample) -> list[Sample]:
        out = copy.deepcopy(item)
        scores: list[float] = []
        for m in out.messages:
            if m.role == "user":
                new = await self._one(client, m.content)
                scores.append(rouge_l(m.content, new))
                m.content = new
        meta: dict[str, Any] = {
            "generator": self.task, "paraphrase_of": item.id, "paraphrase_method": self.method,
            "instruction_from": "llm", "human_verified": False, "model": client.model,
        }  # fmt: skip
        out.meta.update(meta)
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
