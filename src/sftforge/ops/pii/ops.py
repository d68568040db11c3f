"""``redact_pii`` (replace what is found) and ``pii_filter`` (drop samples that contain it).

Both take ``kinds`` (a list of kind names, ``null`` = all; see ``detectors``) and count every
finding in the operator's ``counters.extra`` as ``pii.<kind>``, which the run report shows.
``redact_pii`` replaces each finding with ``replacement`` formatted with ``{kind}``/``{KIND}``
(default ``"[{KIND}]"``, with the names in the detectors table: ``[EMAIL]``, ``[PHONE]``,
``[ID_NUMBER]``...), or with a per-kind string from ``replacements``. Message ``content`` is
searched, and ``reasoning`` too unless ``reasoning: false``; tool-call arguments are not.
``pii_filter`` stores ``{kind: count}`` as its metric and drops a sample with any finding of
the chosen kinds (reason ``"pii: email, phone"``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...sample import Sample
from ..base import Mapper, register_op
from ..text import TextFilter, target_messages
from .detectors import KINDS, find_pii

__all__ = ["DEFAULT_LABELS", "PiiFilter", "RedactPii"]

DEFAULT_LABELS = {
    "private_key": "PRIVATE_KEY",
    "url_credentials": "CREDENTIALS",
    "secret": "SECRET",
    "email": "EMAIL",
    "cn_id": "ID_NUMBER",
    "bank_card": "BANK_CARD",
    "phone": "PHONE",
    "ip": "IP",
}


def _kinds(kinds: list[str] | None) -> frozenset[str] | None:
    if kinds is None:
        return None
    if isinstance(kinds, str):
        kinds = [kinds]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise ValueError(f"unknown pii kind {', '.join(unknown)}; valid: {', '.join(KINDS)}")
    return frozenset(kinds)


@dataclass(kw_only=True)
class RedactPii(Mapper):
    """Replace personal data and secrets in the targeted messages."""

    kinds: list[str] | None = None
    replacement: str = "[{KIND}]"
    replacements: dict[str, str] | None = None
    reasoning: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        self._kinds = _kinds(self.kinds)
        _kinds(list(self.replacements or {}))
        self._subs = {
            k: (self.replacements or {}).get(k)
            or self.replacement.format(kind=k, KIND=DEFAULT_LABELS[k])
            for k in KINDS
        }

    def redact(self, text: str) -> str:
        findings = find_pii(text, self._kinds)
        if not findings:
            return text
        out, pos = [], 0
        for f in findings:
            out.append(text[pos : f.start])
            out.append(self._subs[f.kind])
            pos = f.end
            self.counters.extra[f"pii.{f.kind}"] += 1
        out.append(text[pos:])
        return "".join(out)

    def map(self, sample: Sample) -> Sample:
        for msg in target_messages(sample, self.targets):
            if msg.content:
                msg.content = self.redact(msg.content)
            if msg.reasoning and self.reasoning:
                msg.reasoning = self.redact(msg.reasoning)
        return sample


@dataclass(kw_only=True)
class PiiFilter(TextFilter):
    """Drop samples whose targeted messages contain personal data or secrets."""

    kinds: list[str] | None = None
    reasoning: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        self._kinds = _kinds(self.kinds)

    def metric_params(self) -> str:
        return "" if self.reasoning else "content"

    def stats(self, sample: Sample) -> dict[str, int]:
        counts: dict[str, int] = {}
        for msg in target_messages(sample, self.targets):
            texts = [msg.content, msg.reasoning] if self.reasoning else [msg.content]
            for text in texts:
                for f in find_pii(text or "", None):
                    counts[f.kind] = counts.get(f.kind, 0) + 1
        return counts

    def decide(self, value: Any, sample: Sample) -> bool | tuple[bool, str]:
        hits = {k: n for k, n in value.items() if self._kinds is None or k in self._kinds}
        for k, n in hits.items():
            self.counters.extra[f"pii.{k}"] += n
        if not hits:
            return True
        return False, f"pii: {', '.join(sorted(hits))}"


register_op("redact_pii")(RedactPii)
register_op("pii_filter")(PiiFilter)
