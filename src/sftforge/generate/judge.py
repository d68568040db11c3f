"""judge: LLM scores for harmlessness, honesty, helpfulness and overall, and pairwise preference.

``judge`` asks for JSON scores on a 1–``scale`` scale (10 or 5) with a rationale and stores them
as ``meta["stats"]["judge_<aspect>"]`` (what filters threshold on), the rationale and raw exchange
under ``meta["judge"]``. The sample's turns are not changed.

``judge_pair`` groups samples by their prompt (every turn before the final answer), compares
candidate answers two by two in both orders (a verdict that flips with the order is a tie: the
position bias check), and builds one preference Sample per prompt: the answer with most wins is
``chosen`` (the last assistant turn), the one with fewest is ``rejected``. Prompts with fewer
than two distinct answers, or where every comparison ties, are dropped with the reason.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass
from typing import Any

from ..errors import LLMError, RecipeError
from ..llm.client import LLMClient
from ..sample import Sample
from .base import Generator, conversation_text, register_generator

__all__ = ["ASPECTS", "Judge", "JudgePair", "group_by_prompt"]

ASPECTS = ("harmlessness", "honesty", "helpfulness", "overall")


def _score_schema(scale: int) -> dict[str, Any]:
    num = {"type": "integer", "minimum": 1, "maximum": scale}
    return {
        "type": "object",
        "required": [*ASPECTS, "rationale"],
        "properties": {**{a: num for a in ASPECTS}, "rationale": {"type": "string"}},
    }


PAIR_SCHEMA = {
    "type": "object",
    "required": ["winner"],
    "properties": {"winner": {"enum": ["A", "B", "tie"]}, "rationale": {"type": "string"}},
}


@register_generator
@dataclass(kw_only=True)
class Judge(Generator):
    task = "judge"

    scale: int = 10

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.scale not in (5, 10):
            raise RecipeError(f"judge scale must be 5 or 10, not {self.scale}")

    async def process(self, client: LLMClient, item: Sample) -> list[Sample]:
        if not any(m.content.strip() or m.tool_calls for m in item.turns("assistant")):
            raise LLMError(
                "nothing to judge: the sample has no assistant answer", sample_id=item.id
            )
        lang = self.lang_for(item.prompt_text)
        user = self.render(
            "judge.user", lang, scale=self.scale, conversation=conversation_text(item.messages)
        )
        msgs = [{"role": "system", "content": self.render("judge.system", lang)}]
        msgs.append({"role": "user", "content": user})
        value, comp = await client.complete_json(
            msgs, _score_schema(self.scale), lang=lang, **self.params
        )
        out = copy.deepcopy(item)
        stats = out.meta.setdefault("stats", {})
        for a in ASPECTS:
            stats[f"judge_{a}"] = value[a]
        out.meta["judge"] = {
            "scale": self.scale,
            "rationale": value["rationale"],
            "model": client.model,
            "prompt": msgs,
            "response": comp.text,
        }
        return [out]


def _prompt_key(s: Sample) -> str:
    msgs = s.messages[:-1] if s.messages and s.messages[-1].role == "assistant" else s.messages
    return "\x1e".join(f"{m.role}\x1f{m.content}" for m in msgs)


def group_by_prompt(samples: list[Sample]) -> list[list[Sample]]:
    """Samples sharing the same turns before the final answer, in order of first appearance."""
    groups: dict[str, list[Sample]] = {}
    for s in samples:
        groups.setdefault(_prompt_key(s), []).append(s)
    return list(groups.values())


@register_generator
@dataclass(kw_only=True)
class JudgePair(Generator):
    """Items are groups of samples (one prompt, several answers); see the module docstring."""

    task = "judge_pair"
    input_kind = "group"
    calls_per_item = 2.0

    max_candidates: int = 4

    def prepare(self, items: list[Any]) -> list[Any]:
        if items and isinstance(items[0], list):  # groups read back from a failed file
            return items
        return group_by_prompt(items)

    def item_to_dict(self, item: Any) -> dict[str, Any]:
        return {"samples": [s.to_dict() for s in item]}

    def item_from_dict(self, d: dict[str, Any]) -> Any:
        return [Sample.from_dict(s) for s in d["samples"]]

    async def _compare(
        self, client: LLMClient, ctx: str, a: str, b: str, lang: str
    ) -> tuple[str, str]:
        """The winner (``A``, ``B`` or ``tie``) and the judge's rationale (may be empty)."""
        user = self.render("judge_pair.user", lang, conversation=ctx, answer_a=a, answer_b=b)
        msgs = [{"role": "system", "content": self.render("judge.system", lang)}]
        msgs.append({"role": "user", "content": user})
        value, _ = await client.complete_json(msgs, PAIR_SCHEMA, lang=lang, **self.params)
        return str(value["winner"]), str(value.get("rationale") or "")

    async def process(self, client: LLMClient, item: list[Sample]) -> list[Sample]:
        answers: list[Sample] = []
        for s in item:
            last = s.messages[-1] if s.messages else None
            if last is None or last.role != "assistant" or not last.content.strip():
                continue
            if all(last.content != o.messages[-1].content for o in answers):
                answers.append(s)
        answers = answers[: self.max_candidates]
        if len(answers) < 2:
            for s in item:
                self.drop(s, "fewer than two distinct answers to compare")
            return []
        head = answers[0].messages[:-1]
        ctx, lang = conversation_text(head), self.lang_for(answers[0].prompt_text)
        wins = [0.0] * len(answers)
        verdicts = []
        for i, j in itertools.combinations(range(len(answers)), 2):
            a, b = answers[i].messages[-1].content, answers[j].messages[-1].content
            first, why_first = await self._compare(client, ctx, a, b, lang)
            second, why_second = await self._compare(client, ctx, b, a, lang)
            flipped = {"A": "B", "B": "A", "tie": "tie"}[second]
            w = first if first == flipped else "tie"  # order-dependent verdicts are ties
            verdicts.append(
                # rationales: a shown first, then b shown first (each names its own A and B)
                {"a": answers[i].id, "b": answers[j].id, "winner": w,
                 "rationales": [why_first, why_second]}
            )  # fmt: skip
            if w == "A":
                wins[i] += 1
            elif w == "B":
                wins[j] += 1
            else:
                wins[i] += 0.5
                wins[j] += 0.5
        best = max(range(len(answers)), key=lambda k: wins[k])
        worst = min(range(len(answers)), key=lambda k: wins[k])
        if wins[best] == wins[worst]:
            for s in item:
                self.drop(s, "the judge preferred no answer (all ties)", verdicts)
            return []
        chosen, rejected = answers[best], answers[worst]
        out = Sample(
            messages=[*copy.deepcopy(head), copy.deepcopy(chosen.messages[-1])],
            rejected=copy.deepcopy(rejected.messages[-1]),
            meta={
                **copy.deepcopy(chosen.meta),  # provenance (source file, input) of the chosen
                "generator": self.task,
                "group_ids": [s.id for s in item],
                "human_verified": False,
                "chosen_id": chosen.id,
                "rejected_id": rejected.id,
                "judge": {"model": client.model, "verdicts": verdicts, "wins": wins},
            },
        )
        return [out]
