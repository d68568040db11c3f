"""Deduplication operators: ``dedup_exact``, ``dedup_near`` (MinHash-LSH), ``dedup_semantic``.

Importing this package registers them.
"""

from __future__ import annotations

from .exact import ExactDedup
from .near import NearDedup
from .semantic import SemanticDedup
from .text import VIEWS, normalize, shingles, tokens, view_text

__all__ = [
    "VIEWS",
    "ExactDedup",
    "NearDedup",
    "SemanticDedup",
    "normalize",
    "shingles",
    "tokens",
    "view_text",
]
