"""How often two reviewers of the same items agree: percent agreement and Cohen's kappa.

In a double-reviewed queue every item has two slots (the first and the second reviewer assigned
to it). The figures compare slot one's label with slot two's over the items both have decided,
so they are defined however many people share the slots. Cohen's kappa corrects the observed
agreement ``po`` for the agreement ``pe`` two raters with the same label frequencies would reach
by chance: ``kappa = (po - pe) / (1 - pe)``, ``pe = sum over labels of p1(label) * p2(label)``.
When ``pe`` is 1 (both reviewers gave one and the same label to every item) kappa is undefined
and reported as ``None`` rather than an invented number.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Agreement", "agreement"]


@dataclass(frozen=True, slots=True)
class Agreement:
    """Agreement over ``items`` label pairs: ``agreed`` of them equal."""

    items: int
    agreed: int
    percent: float | None  # 0..100; None when there is no pair yet
    kappa: float | None  # None when there is no pair or chance agreement is 1
    expected: float | None  # the chance agreement pe, 0..1

    def to_dict(self) -> dict[str, int | float | None]:
        return {
            "items": self.items,
            "agreed": self.agreed,
            "percent": self.percent,
            "kappa": self.kappa,
            "expected": self.expected,
        }


def agreement(pairs: Sequence[tuple[str, str]]) -> Agreement:
    """Percent agreement and Cohen's kappa of ``(first label, second label)`` pairs."""
    n = len(pairs)
    if n == 0:
        return Agreement(0, 0, None, None, None)
    agreed = sum(1 for a, b in pairs if a == b)
    po = agreed / n
    first = Counter(a for a, _ in pairs)
    second = Counter(b for _, b in pairs)
    pe = sum(first[label] * second[label] for label in first) / (n * n)
    kappa = None if pe >= 1.0 else (po - pe) / (1.0 - pe)
    return Agreement(n, agreed, round(100.0 * po, 4), _round(kappa), round(pe, 6))


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)
