"""Encode a stream of samples with a trainer profile into ``TokenizedRow``s and reject records.

What ``sftforge tokenize --profile NAME`` calls: rows come out in input order, and every sample
the profile rejects becomes a record ``{id, op, reason}`` so input = written + rejected.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import islice
from typing import Any

from ...sample import Sample
from ..tokenize import TokenizedRow
from .base import Encoded, Profile

__all__ = ["encode_with_profile"]


def encode_with_profile(
    samples: Iterable[Sample], profile: Profile, *, batch_size: int = 4096
) -> tuple[list[TokenizedRow], list[dict[str, Any]]]:
    rows: list[TokenizedRow] = []
    rejects: list[dict[str, Any]] = []
    it = iter(samples)
    while batch := list(islice(it, batch_size)):
        for out in profile.encode_batch(batch):
            if isinstance(out, Encoded):
                rows.append(TokenizedRow(out.sample_id, out.input_ids, out.labels))
            else:
                rejects.append(
                    {"id": out.sample_id, "op": f"profile:{out.profile}", "reason": out.reason}
                )
    return rows, rejects
