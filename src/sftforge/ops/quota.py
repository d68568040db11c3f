"""Integer quotas from fractions: largest-remainder rounding, deterministic on ties."""

from __future__ import annotations

import math

__all__ = ["largest_remainder"]


def largest_remainder(total: int, weights: dict[str, float]) -> dict[str, int]:
    """Split ``total`` into integers proportional to ``weights`` that sum exactly to ``total``.

    Ties in the remainders go to the name listed first, so the result never depends on chance.
    """
    names = list(weights)
    wsum = sum(weights.values())
    if total <= 0 or wsum <= 0:
        return dict.fromkeys(names, 0)
    exact = {k: total * weights[k] / wsum for k in names}
    out = {k: math.floor(v) for k, v in exact.items()}
    left = total - sum(out.values())
    by_rem = sorted(names, key=lambda k: (-(exact[k] - out[k]), names.index(k)))
    for k in by_rem[:left]:
        out[k] += 1
    return out
