"""The suggestion beside the human answer, and the export policy that decides which one wins.

Argilla keeps a model's *suggestion* apart from a person's *response*; the studio does the same
for rows an LLM answered (lineage ``model`` set, or ``meta.answer_from == "llm"``):

- until a person changes the answer, the row's conversation *is* the suggestion;
- when a reviewer edits it, the edit (through ``edits.py``, the one edit path) stores the
  conversation as the model wrote it in ``meta["suggestion"]`` (``keep_suggestion``) and the row's
  conversation becomes the human answer; accepting or marking ``human_verified`` makes the
  unchanged suggestion the human answer too.

An export picks one per row (``resolve``):

- ``human_first`` (default): the human answer when there is one, else the suggestion;
- ``suggestion_first``: the suggestion when there is one, else the human answer;
- ``human_only``: only rows with a human answer; an LLM answer nobody checked is left out
  (to the export's rejects, with the reason) rather than exported as if a person wrote it.

Rows rejected in review are the export's business (``exports.py`` leaves them out unless asked
to keep them); the policy only picks the answer. Rows no LLM answered were written by people and pass unchanged. ``meta["suggestion"]`` itself is review
bookkeeping, not training data: the exported sample goes without it (the version keeps it).
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from sftforge.sample import Message, Sample
from sftforge.studio.errors import ApiError

__all__ = [
    "POLICIES",
    "Policy",
    "Resolved",
    "check_policy",
    "is_llm_answered",
    "keep_suggestion",
    "keep_suggestion_json",
    "resolve",
]

Policy = Literal["human_first", "suggestion_first", "human_only"]
POLICIES: tuple[Policy, ...] = ("human_first", "suggestion_first", "human_only")
SUGGESTION_KEY = "suggestion"


@dataclass(frozen=True, slots=True)
class Resolved:
    """What an export writes for one row: ``sample``, or None and the ``reason`` it is left out;
    ``source`` says which answer won (``human``, ``suggestion`` or ``as_is``)."""

    sample: Sample | None
    source: str
    reason: str | None = None


def check_policy(policy: str) -> Policy:
    """``policy`` when it is one of POLICIES, else the one error naming the valid ones."""
    for known in POLICIES:
        if policy == known:
            return known
    raise ApiError(
        422,
        "invalid",
        f"unknown export policy {policy!r}",
        field="policy",
        hint="use one of: " + ", ".join(POLICIES),
    )


def is_llm_answered(sample: Sample, model: str | None = None) -> bool:
    """True when an LLM wrote the row's answer: lineage ``model`` set or the meta says so."""
    if model:
        return True
    meta = sample.meta or {}
    return SUGGESTION_KEY in meta or meta.get("answer_from") == "llm"


def keep_suggestion(before: Sample, after: Sample, model: str | None = None) -> Sample:
    """``after`` with the model's conversation kept in ``meta["suggestion"]`` when a person
    changes an LLM answer for the first time (later edits keep the first suggestion)."""
    if not is_llm_answered(before, model) or SUGGESTION_KEY in (after.meta or {}):
        return after
    if SUGGESTION_KEY in (before.meta or {}):
        kept: Any = before.meta[SUGGESTION_KEY]
    else:
        if [m.to_dict() for m in before.messages] == [m.to_dict() for m in after.messages]:
            return after  # nothing of the answer changed: the row is still the suggestion
        kept = {"messages": [m.to_dict() for m in before.messages]}
        llm = (before.meta or {}).get("llm")
        agent = model or (llm.get("model") if isinstance(llm, dict) else None)
        if agent:
            kept["agent"] = agent
    return dataclasses.replace(
        after, meta={**(after.meta or {}), SUGGESTION_KEY: copy.deepcopy(kept)}
    )


def keep_suggestion_json(before: str, after: str, model: str | None = None) -> str:
    """``keep_suggestion`` on ``Sample.to_json()`` texts: the hook ``edits.apply_edit`` calls on
    every sample edit, so an LLM answer changed anywhere (queue or record view) keeps the model's
    conversation beside the human one."""
    old, new = Sample.from_json(before), Sample.from_json(after)
    if not is_llm_answered(old, model):
        return after
    kept = keep_suggestion(old, new, model)
    return after if kept is new else kept.to_json().decode("utf-8")


def resolve(
    sample: Sample,
    policy: Policy,
    *,
    model: str | None = None,
    status: str = "",
    human_verified: bool = False,
) -> Resolved:
    """The sample an export writes for one row under ``policy``, or why it is left out."""
    meta = sample.meta or {}
    stored = meta.get(SUGGESTION_KEY)
    if not is_llm_answered(sample, model):
        return Resolved(sample, "as_is")
    edited = isinstance(stored, dict) and isinstance(stored.get("messages"), list)
    has_human = edited or human_verified or status == "accepted"
    if policy == "suggestion_first" and edited:
        assert isinstance(stored, dict)
        return Resolved(_with_messages(sample, stored["messages"]), "suggestion")
    if policy == "human_only" and not has_human:
        return Resolved(
            None,
            "suggestion",
            "human_only: the LLM answer was not accepted, edited or verified by a person",
        )
    source = "human" if has_human else "suggestion"
    return Resolved(_without_suggestion(sample), source)


def _without_suggestion(sample: Sample) -> Sample:
    if SUGGESTION_KEY not in (sample.meta or {}):
        return sample
    return dataclasses.replace(
        sample, meta={k: v for k, v in sample.meta.items() if k != SUGGESTION_KEY}
    )


def _with_messages(sample: Sample, messages: list[dict[str, Any]]) -> Sample:
    return dataclasses.replace(
        _without_suggestion(sample), messages=[Message.from_dict(m) for m in messages]
    )
