"""Token statistics for the run report: totals, trained tokens, per-role counts, histograms.

Per-role counts attribute each token to the message whose text it overlaps, by locating every
message's content in the rendered text in order; tokens the template adds (role headers, BOS,
turn ends) count as ``template``. A message whose text the template rewrote beyond stripping is
counted under ``template`` too.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, Protocol

from ..sample import Sample
from .encode import token_range

__all__ = ["LENGTH_EDGES", "TokenStats", "histogram", "role_token_counts"]

# power-of-two buckets: [0,32), [32,64) ... [8192,16384), and the last one open-ended
LENGTH_EDGES: tuple[int, ...] = (0, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384)


class _Row(Protocol):
    input_ids: list[int]
    labels: list[int]


def histogram(values: Sequence[int], edges: Sequence[int] = LENGTH_EDGES) -> dict[str, Any]:
    """Counts per bucket ``[edges[i], edges[i+1])``; the last bucket is ``>= edges[-1]``."""
    counts = [0] * len(edges)
    for v in values:
        counts[max(bisect_right(edges, v) - 1, 0)] += 1
    labels = [f"{a}-{b - 1}" for a, b in pairwise(edges)] + [f">={edges[-1]}"]
    return {"buckets": labels, "counts": counts}


def role_token_counts(text: str, sample: Sample, encoding: Any) -> Counter[str]:
    """Tokens per role for one rendered conversation (``template`` for what the template adds);
    ``encoding`` is the Rust ``tokenizers.Encoding`` of ``text``."""
    counts: Counter[str] = Counter()
    cursor = 0
    for m in sample.messages:
        for piece in (m.content, m.content.strip()):
            if not piece:
                break
            at = text.find(piece, cursor)
            if at >= 0:
                i, j = token_range(encoding, at, at + len(piece))
                counts[m.role] += j - i
                cursor = at + len(piece)
                break
    counts["template"] = len(encoding) - sum(counts.values())
    return counts


@dataclass
class TokenStats:
    """Accumulated over the rows written; ``to_dict`` is the report section."""

    samples: int = 0
    tokens: int = 0
    trained: int = 0
    per_role: Counter[str] = field(default_factory=Counter)
    lengths: list[int] = field(default_factory=list)
    trained_lengths: list[int] = field(default_factory=list)

    def add(self, row: _Row, roles: Counter[str] | None = None) -> None:
        n = len(row.input_ids)
        t = n - row.labels.count(-100)
        self.samples += 1
        self.tokens += n
        self.trained += t
        self.lengths.append(n)
        self.trained_lengths.append(t)
        if roles:
            self.per_role.update(roles)

    def to_dict(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "tokens": self.tokens,
            "trained_tokens": self.trained,
            "trained_fraction": round(self.trained / self.tokens, 4) if self.tokens else 0.0,
            "mean_length": round(self.tokens / self.samples, 1) if self.samples else 0.0,
            "max_length": max(self.lengths, default=0),
            "per_role": dict(sorted(self.per_role.items())),
            "length_histogram": histogram(self.lengths),
            "trained_histogram": histogram(self.trained_lengths),
        }
