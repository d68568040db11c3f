"""Encode a stream of samples with a trainer profile into ``TokenizedRow``s and reject records.

What ``sftforge tokenize --profile NAME`` calls: rows come out in input order, and every sample
the profile rejects becomes a record ``{id, op, reason}`` so input = written + rejected. The
samples are read as the profile asks for them (``encode_stream``), so reading overlaps encoding.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..._gc import gc_bulk
from ...sample import Sample
from ..tokenize import TokenizedRow
from .base import Encoded, Profile

__all__ = ["encode_with_profile"]


def encode_with_profile(
    samples: Iterable[Sample],
    profile: Profile,
    *,
    batch_size: int = 2048,
    sink: Callable[[TokenizedRow], None] | None = None,
) -> tuple[list[TokenizedRow], list[dict[str, Any]]]:
    """(rows, rejects); with ``sink`` each row goes to it as it is made and ``rows`` is empty."""
    rows: list[TokenizedRow] = []
    rejects: list[dict[str, Any]] = []
    keep = rows.append if sink is None else sink
    with gc_bulk():  # bulk work: collect rarely, hand the rows back as old objects
        for out in profile.encode_stream(samples, batch_size=batch_size):
            if isinstance(out, Encoded):
                keep(TokenizedRow(out.sample_id, out.input_ids, out.labels))
            else:
                rejects.append(
                    {"id": out.sample_id, "op": f"profile:{out.profile}", "reason": out.reason}
                )
    return rows, rejects
