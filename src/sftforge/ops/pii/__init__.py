"""Personal data and secrets: detectors, ``redact_pii`` and ``pii_filter``."""

from .detectors import KINDS, Finding, cn_id_valid, find_pii, luhn_valid
from .ops import DEFAULT_LABELS, PiiFilter, RedactPii

__all__ = [
    "DEFAULT_LABELS",
    "KINDS",
    "Finding",
    "PiiFilter",
    "RedactPii",
    "cn_id_valid",
    "find_pii",
    "luhn_valid",
]
