"""Packing rows into bins of ``max_len`` tokens by best-fit decreasing.

Rows are placed longest first, each into the open bin with the least room that still fits it
(a sorted list of (room, bin) searched with bisect), else into a new bin. A packed row
concatenates its samples; ``position_ids`` restart at 0 for each sample and ``seq_lens`` gives the
sample lengths, so a varlen/flash-attention trainer keeps the samples from attending to each
other. The first label of every packed sample is -100: with labels unshifted, that position's
target would otherwise be predicted from the previous sample's last token.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import TokenizeError
from .encode import IGNORE_INDEX
from .tokenize import TokenizedRow

__all__ = ["PackStats", "PackedRow", "best_fit_decreasing", "pack_rows"]


@dataclass(slots=True)
class PackedRow:
    ids: list[str]
    input_ids: list[int]
    labels: list[int]
    position_ids: list[int]
    seq_lens: list[int]

    @property
    def attention_mask(self) -> list[int]:
        return [1] * len(self.input_ids)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ids": self.ids,
            "input_ids": self.input_ids,
            "labels": self.labels,
            "attention_mask": self.attention_mask,
            "position_ids": self.position_ids,
            "seq_lens": self.seq_lens,
        }


@dataclass(frozen=True, slots=True)
class PackStats:
    samples: int
    bins: int
    tokens: int
    max_len: int

    @property
    def utilisation(self) -> float:
        return self.tokens / (self.bins * self.max_len) if self.bins else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "bins": self.bins,
            "tokens": self.tokens,
            "max_len": self.max_len,
            "utilisation": round(self.utilisation, 6),
        }


def best_fit_decreasing(lengths: Sequence[int], capacity: int) -> list[list[int]]:
    """Bins as lists of item indexes (longest first in each bin); deterministic."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    bins: list[list[int]] = []
    rooms: list[tuple[int, int]] = []  # (room left, bin index), kept sorted
    for i in order:
        size = lengths[i]
        if size > capacity:
            raise TokenizeError(
                f"a row of {size} tokens does not fit max_len {capacity}; truncate first."
            )
        at = bisect_left(rooms, (size, -1))
        if at == len(rooms):
            bins.append([i])
            room, b = capacity - size, len(bins) - 1
        else:
            room, b = rooms.pop(at)
            bins[b].append(i)
            room -= size
        if room > 0:
            insort(rooms, (room, b))
    return bins


def pack_rows(rows: Sequence[TokenizedRow], max_len: int) -> tuple[list[PackedRow], PackStats]:
    """Pack ``rows`` (each at most ``max_len`` long) into ``PackedRow``s; returns them and stats."""
    bins = best_fit_decreasing([len(r.input_ids) for r in rows], max_len)
    packed = [_concat([rows[i] for i in members]) for members in bins]
    total = sum(len(r.input_ids) for r in rows)
    return packed, PackStats(len(rows), len(bins), total, max_len)


def _concat(members: list[TokenizedRow]) -> PackedRow:
    out = PackedRow([], [], [], [], [])
    for r in members:
        n = len(r.input_ids)
        out.ids.append(r.id)
        out.input_ids.extend(r.input_ids)
        out.labels.append(IGNORE_INDEX)
        out.labels.extend(r.labels[1:])
        out.position_ids.extend(range(n))
        out.seq_lens.append(n)
    return out
