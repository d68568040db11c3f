"""Fitting a tokenized conversation into a maximum length, by a named policy.

    drop               the sample is rejected ("too_long")
    drop_oldest_turns  whole exchanges (a user turn and everything after it up to the next user
                       turn) are removed from the front, keeping the system turn, until it fits;
                       rejected ("too_long_last_turn") when even the last exchange does not fit
    cut_answer         the token sequence is cut at the maximum; what is left of the answer stays
                       trained

Whatever the policy, a row left with no trained token is rejected ("no_trained_tokens") by the
caller: it is never written silently.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Literal

from ..errors import TokenizeError
from ..sample import Sample

__all__ = ["TRUNCATION_POLICIES", "Truncation", "drop_oldest_turns", "exchange_starts"]

Truncation = Literal["drop", "drop_oldest_turns", "cut_answer"]
TRUNCATION_POLICIES: tuple[str, ...] = ("drop", "drop_oldest_turns", "cut_answer")


def exchange_starts(sample: Sample) -> list[int]:
    """Indexes of the user turns: each starts an exchange."""
    return [i for i, m in enumerate(sample.messages) if m.role == "user"]


def drop_oldest_turns(
    sample: Sample, max_len: int, length_of: Callable[[Sample], int]
) -> tuple[Sample, int]:
    """The longest tail of exchanges (plus the system turn) that fits; returns it and how many
    exchanges were dropped. ``length_of`` renders and tokenizes a candidate."""
    starts = exchange_starts(sample)
    head = [m for m in sample.messages[:1] if m.role == "system"]
    # the length only shrinks as exchanges go, so binary search on how many to drop
    lo, hi, best = 1, len(starts) - 1, None
    while lo <= hi:
        mid = (lo + hi) // 2
        candidate = replace(sample, messages=head + sample.messages[starts[mid] :])
        if length_of(candidate) <= max_len:
            best, hi = (candidate, mid), mid - 1
        else:
            lo = mid + 1
    if best is None:
        raise TokenizeError(
            f"even the last exchange is longer than max_len {max_len} (truncation=drop_oldest_turns).",
            sample_id=sample.id,
        )
    return best
