"""evol_instruct: make instructions harder (in depth) or new (in breadth), as in WizardLM.

Each round picks one method per sample (deterministic from ``seed``, the sample id and the
round): in depth ``constraints``, ``deepen``, ``concretize``, ``reasoning``,
``complicate_input``; in breadth ``breadth``. The evolved instruction is answered, then the
paper's elimination rules apply (Xu et al. 2023, §3.3):

1. no information gain: the model judges the evolved and the previous instruction equal;
2. the rewrite copied words of the evolving prompt ("#Rewritten Prompt#", "given prompt"...);
3. the answer could not be produced: it apologises ("sorry", "抱歉") and is short (< 80 words);
4. the answer holds only punctuation and stop words.

An eliminated evolution goes to the rejects with the rule; the sample keeps its previous
instruction for the next round (as WizardLM returns it to the pool). Every surviving evolution
is an output sample (``meta["evol_round"]``, ``evol_method``, ``evolved_from``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from ..errors import LLMError, RecipeError
from ..llm.client import LLMClient, Refused
from ..llm.types import Completion
from ..sample import Message, Sample
from .base import Generator, llm_meta, register_generator
from .rouge import rouge_tokens

__all__ = ["METHODS", "EvolInstruct", "elimination_reason"]

METHODS = ("constraints", "deepen", "concretize", "reasoning", "complicate_input", "breadth")
COPIED = (
    "#rewritten prompt#", "#given prompt#", "#created prompt#", "rewritten prompt", "given prompt",
    "created prompt", "改写后的提示", "给定的提示", "新的提示",
)  # fmt: skip
APOLOGY = ("sorry", "i apologize", "i apologise", "抱歉", "对不起")
STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "if",
        "then",
        "so",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "with",
        "from",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "it",
        "this",
        "that",
        "these",
        "those",
        "i",
        "you",
        "he",
        "she",
        "we",
        "they",
        "me",
        "my",
        "your",
        "our",
        "their",
        "not",
        "no",
        "yes",
        "ok",
        "okay",
    ]
) | frozenset(
    [
        "的",
        "了",
        "是",
        "在",
        "和",
        "与",
        "或",
        "也",
        "就",
        "都",
        "而",
        "及",
        "吗",
        "呢",
        "吧",
        "啊",
        "哦",
        "嗯",
        "好",
        "我",
        "你",
        "他",
        "她",
        "它",
        "们",
        "这",
        "那",
        "个",
        "有",
        "没",
    ]
)

_EQUAL = {"type": "object", "required": ["equal"], "properties": {"equal": {"type": "boolean"}}}


def elimination_reason(evolved: str, answer: str | None) -> str | None:
    """Rules 2–4 (rule 1 needs the model); ``answer`` ``None`` checks the instruction only."""
    low = evolved.lower()
    if any(c in low for c in COPIED):
        return "copied words of the evolving prompt"
    if answer is None:
        return None
    words = rouge_tokens(answer)
    if any(a in answer.lower() for a in APOLOGY) and len(words) < 80:
        return "the answer could not be produced (a short apology)"
    if all(w in STOP_WORDS for w in words):
        return "the answer holds only punctuation and stop words"
    return None


@register_generator
@dataclass(kw_only=True)
class EvolInstruct(Generator):
    task = "evol_instruct"
    calls_per_item = 3.0

    rounds: int = 1
    methods: list[str] = field(default_factory=lambda: list(METHODS))
    check_equal: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        bad = [m for m in self.methods if m not in METHODS]
        if bad or not self.methods:
            raise RecipeError(f"unknown evol method(s) {bad}; use some of: {', '.join(METHODS)}")

    def calls_estimate(self) -> float:
        return float(self.rounds * (3 if self.check_equal else 2))

    async def process(self, client: LLMClient, item: Sample) -> list[Sample]:
        users = [i for i, m in enumerate(item.messages) if m.role == "user"]
        if not users:
            raise LLMError("no user turn to evolve", sample_id=item.id)
        head = [m for m in item.messages[: users[-1]] if m.role == "system"]
        current = item.messages[users[-1]].content
        out: list[Sample] = []
        for rnd in range(1, self.rounds + 1):
            rng = random.Random(f"{self.seed}-{item.id}-{rnd}")
            method = rng.choice(self.methods)
            lang = self.lang_for(current)
            prompt = self.render(f"evol.{method}", lang, instruction=current)
            msgs, comp = await self.ask(client, prompt)
            evolved = comp.text.strip()
            probe = Sample(messages=[*head, Message("user", evolved or "(empty)")])
            probe.meta = {"generator": self.task, "evol_round": rnd, "evol_method": method}
            reason = elimination_reason(evolved, None)
            if reason is None and self.check_equal:
                ask = self.render("evol.equal", lang, first=current, second=evolved)
                same, _, _ = await self.ask_json(client, ask, _EQUAL, lang)
                reason = (
                    "no information gain over the previous instruction" if same["equal"] else None
                )
            if reason is None:
                answer_msgs = [*(m.to_dict() for m in head), {"role": "user", "content": evolved}]
                try:
                    ans = await client.complete(answer_msgs, **self.params)
                except Refused as exc:  # rule 3: the evolved instruction could not be answered
                    ans = Completion(text=exc.message)
                    reason = "the answer could not be produced (a short apology)"
                else:
                    reason = elimination_reason(evolved, ans.text)
                probe.messages.append(Message("assistant", ans.text, reasoning=ans.reasoning))
                probe.meta.update(
                    llm_meta(
                        self.task,
                        client,
                        answer_msgs,
                        ans,
                        instruction_from="llm",
                        evol_round=rnd,
                        evol_method=method,
                        evolved_from=current,
                        evol_prompt=msgs,
                        evol_response=comp.text,
                        source_id=item.id,
                    )
                )
            if reason is not None:
                self.drop(probe, reason)
                continue
            out.append(probe)
            current = evolved
        return out
