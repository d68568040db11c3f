"""Which rows a review queue holds and who reviews each: a seeded sample and a fair assignment.

The rows come from a browse filter (``browse.py`` is the one filter); this module only takes the
matching row ids, in version order, and (1) keeps a random ``percent`` of them, chosen by a
seeded generator so the same seed over the same version gives the same queue, and (2) hands each
item to ``per_item`` reviewers in turn (round robin), so the work is shared evenly and the two
reviewers of a double-reviewed item are always two different people.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

from sftforge.studio.errors import ApiError

__all__ = ["assign", "sample_ids"]


def sample_ids(row_ids: Sequence[str], percent: float, seed: int) -> list[str]:
    """``percent`` % of ``row_ids`` (at least one when any match), in their original order.

    ``random.Random(seed).sample`` is stable across Python versions for an int seed, so a queue
    can be rebuilt from its recorded seed.
    """
    if not 0 < percent <= 100:
        raise ApiError(
            422,
            "invalid",
            f"sample percent must be above 0 and at most 100, not {percent}",
            field="percent",
            hint="give a percentage such as 5 for a 5 % sample",
        )
    n = len(row_ids)
    if n == 0 or percent == 100:
        return list(row_ids)
    k = max(1, math.floor(n * percent / 100 + 0.5))
    chosen = sorted(random.Random(seed).sample(range(n), k))
    return [row_ids[i] for i in chosen]


def assign(n_items: int, reviewers: Sequence[str], per_item: int) -> list[list[str]]:
    """The reviewers of each of ``n_items`` items: ``per_item`` distinct people, in rotation."""
    if per_item not in (1, 2):
        raise ApiError(
            422,
            "invalid",
            f"reviewers per item must be 1 or 2, not {per_item}",
            field="per_item",
            hint="use 2 for double review, 1 otherwise",
        )
    people = list(dict.fromkeys(r.strip() for r in reviewers if r.strip()))
    if len(people) < per_item:
        raise ApiError(
            422,
            "invalid",
            f"double review needs at least {per_item} different reviewers, got {len(people)}",
            field="reviewers",
            hint="name two or more reviewers, or set per_item to 1",
        )
    width = len(people)
    return [[people[(i * per_item + j) % width] for j in range(per_item)] for i in range(n_items)]
