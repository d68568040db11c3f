"""Import to register every whole-dataset operator: dedup, split, mix, sampling, identity."""

from __future__ import annotations

from .dedup import ExactDedup, NearDedup, SemanticDedup
from .identity import Identity
from .mix import Mix
from .sampling import Head, RandomSample, Shuffle
from .split import Split

__all__ = [
    "ExactDedup",
    "Head",
    "Identity",
    "Mix",
    "NearDedup",
    "RandomSample",
    "SemanticDedup",
    "Shuffle",
    "Split",
]
