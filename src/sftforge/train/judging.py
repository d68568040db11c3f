"""The before/after verdicts of ``sftforge eval``, through the existing pairwise judge.

Each question becomes one group of two samples (its prompt + the tuned answer, its prompt + the
base answer) for ``generate.judge.JudgePair``, run by ``generate.generate`` with the judge's
``LLMConfig`` (cache, rate limits, retries, budget: the provider layer as every generator uses
it). The judge compares the two answers in both orders; its preference sample names the chosen
answer's id, which says the winner. Mapped back to the rows:

* chosen tuned answer -> ``tuned``; chosen base answer -> ``base``;
* an empty answer loses to a non-empty one, without a call;
* identical answers, or a verdict that flips with the order (every comparison a tie) -> ``tie``
  (identical answers are not sent: there is nothing to compare);
* a call that failed for good -> no verdict, ``judge["error"]`` holds the reason.

Questions with the same prompt are judged once (their greedy answers are the same too).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..sample import Message, Sample

if TYPE_CHECKING:
    from ..llm.config import LLMConfig
    from .evaluate import EvalRow

__all__ = ["judge_rows"]


def _candidate(row: EvalRow, answer: str, side: str) -> Sample:
    msgs = [Message.from_dict(m) for m in row.prompt]
    return Sample([*msgs, Message("assistant", answer)], meta={"eval_side": side})


def judge_rows(rows: list[EvalRow], llm: LLMConfig, *, provider: Any = None) -> None:
    """Set ``verdict`` and ``judge`` on every row that has both answers (see the module doc)."""
    from ..generate.judge import JudgePair
    from ..generate.run import generate

    side_of: dict[str, str] = {}
    pair_of: dict[str, tuple[str, str]] = {}  # sample id -> its (tuned id, base id) pair
    pair_rows: dict[tuple[str, str], list[EvalRow]] = {}
    items: list[Sample] = []
    for row in rows:
        if row.tuned_answer is None or row.base_answer is None:
            continue
        if row.tuned_answer.strip() == row.base_answer.strip():
            row.verdict, row.judge = "tie", {"note": "identical answers"}
            continue
        if not row.tuned_answer.strip() or not row.base_answer.strip():
            empty = "tuned" if not row.tuned_answer.strip() else "base"
            row.verdict = "base" if empty == "tuned" else "tuned"
            row.judge = {"note": f"the {empty} answer is empty"}
            continue
        tuned = _candidate(row, row.tuned_answer, "tuned")
        base = _candidate(row, row.base_answer, "base")
        pair = (tuned.id, base.id)
        if pair not in pair_rows:
            items += [tuned, base]
            side_of[tuned.id], side_of[base.id] = "tuned", "base"
            pair_of[tuned.id] = pair_of[base.id] = pair
        pair_rows.setdefault(pair, []).append(row)
    if not items:
        return
    result = generate(JudgePair(), items, llm, provider=provider)
    for s in result.samples:
        info = {"model": s.meta["judge"]["model"], "verdicts": s.meta["judge"]["verdicts"]}
        for row in pair_rows[pair_of[s.meta["chosen_id"]]]:
            row.verdict, row.judge = side_of[s.meta["chosen_id"]], info
    for d in result.dropped:  # both answers of a pair are dropped with the same reason
        for row in pair_rows[pair_of[d["sample"]["id"]]]:
            row.verdict, row.judge = "tie", {"note": d["reason"], "verdicts": d.get("value")}
    for f in result.failed:
        for row in pair_rows[pair_of[f["input"]["samples"][0]["id"]]]:
            row.judge = {"error": f["reason"]}
