"""Personal data and secret detectors: a regular expression per kind plus a validator.

Kinds (the names used in options, counters ``pii.<kind>`` and default replacements):

=================  =============================================================  ===============
kind               what                                                           replacement
=================  =============================================================  ===============
private_key        ``-----BEGIN ... PRIVATE KEY-----`` blocks                      [PRIVATE_KEY]
url_credentials    ``user:password@`` inside a URL (only that part is replaced)   [CREDENTIALS]
secret             OpenAI ``sk-``, AWS ``AKIA``/``ASIA``, GitHub ``ghp_``/            [SECRET]
                   ``github_pat_``, Slack ``xox?-``, Google ``AIza``, Hugging
                   Face ``hf_``, and the value in ``api_key=...``/``password: ...``
                   (quoted, or holding a digit: ``token = tokenizer(x)`` is code)
email              addresses                                                      [EMAIL]
cn_id              mainland China resident ID (18 digits, date and ISO 7064       [ID_NUMBER]
                   checksum verified: a wrong check digit does not match)
bank_card          13-19 digits, optional space/dash groups, first digit 2-6,     [BANK_CARD]
                   Luhn verified
phone              mainland mobile ``1[3-9]`` + 9 digits (with/without ``+86``,   [PHONE]
                   spaces or dashes), mainland landline ``0xx(x)-xxxxxxx(x)``,
                   international ``+CC ...`` (8-15 digits), North American
                   ``(555) 123-4567``
ip                 IPv4 (each part 0-255) and IPv6 (validated by ``ipaddress``;   [IP]
                   short forms like ``a::b`` are left alone: C++/slice syntax)
=================  =============================================================  ===============

Word edges use ASCII look-arounds, never ``\\b``, which fails between a Chinese character and
a digit or letter (``电话13812345678`` must match). Detection order is the table's order; a
span already taken by an earlier kind is not reported again (an ID number is not also a
phone number or a bank card).
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["KINDS", "Finding", "cn_id_valid", "find_pii", "luhn_valid"]


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str
    start: int
    end: int
    text: str


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def cn_id_valid(number: str) -> bool:
    """ISO 7064 MOD 11-2 check digit of an 18-character resident ID."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(c) * w for c, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == number[17].upper()


def _digits(s: str) -> str:
    return "".join(c for c in s if c.isdigit())


def _ipv6_valid(s: str) -> bool:
    # "a::b", "::2" (a[::2]) are valid addresses but in text they are code, not personal data
    groups = [g for g in s.split(":") if g]
    if not any(len(g) >= 3 for g in groups) and len(groups) < 4:
        return False
    try:
        ipaddress.IPv6Address(s)
    except ValueError:
        return False
    return True


def _secret_value(s: str, m: re.Match[str]) -> bool:
    # "token = tokenizer.encode" is code, not a secret: an unquoted value needs a digit
    return bool(m.group("q")) or any(c.isdigit() for c in s)


def _intl_phone_valid(s: str, m: re.Match[str]) -> bool:
    return 8 <= len(_digits(s)) <= 15


def _card_valid(s: str, m: re.Match[str]) -> bool:
    d = _digits(s)
    return 13 <= len(d) <= 19 and luhn_valid(d)


_NA = r"(?<![0-9A-Za-z])"  # not preceded by an ASCII letter/digit
_NZ = r"(?![0-9A-Za-z])"
_ND = r"(?<![0-9])"
_NDZ = r"(?![0-9])"

_D4_RE = re.compile(r"\d{4}")
_D17_RE = re.compile(r"\d{17}")
_CARD_RE = re.compile(r"\d{4}[ -]?\d{4}[ -]?\d{4}")
_MOBILE_RE = re.compile(r"1[3-9]\d[ -]?\d{4}")
_IPV4_RE = re.compile(r"\d\.\d{1,3}\.\d")
_IPV6_RE = re.compile(r":[0-9A-Fa-f]{0,4}:")
_TOKEN_PREFIXES = ("sk-", "AKIA", "ASIA", "gh", "github_pat_", "xox", "AIza", "hf_")
_SECRET_WORDS = ("key", "secret", "token", "pass", "pwd")

Prefilter = Callable[[str, str], bool]  # (text, lower-cased text) -> may contain this kind
# (kind, pattern, validator, group to replace (0 = the whole match), prefilter). The prefilters
# are C-speed substring/charset tests: the detectors' look-behinds stop the regex engine from
# skipping ahead, so running them only where a cheap test says they can match is ~10x faster.
_Detector = tuple[
    str, re.Pattern[str], Callable[[str, re.Match[str]], bool] | None, int | str, Prefilter
]
_DETECTORS: list[_Detector] = [
    (
        "private_key",
        re.compile(
            r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----.*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----",
            re.DOTALL,
        ),
        None,
        0,
        lambda t, low: "PRIVATE KEY" in t,
    ),
    (
        "url_credentials",
        re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://(?P<cred>[^\s:/@]+:[^\s@/]+)@[^\s/]"),
        None,
        "cred",
        lambda t, low: "://" in t and "@" in t,
    ),
    (
        "secret",
        re.compile(
            _NA + r"(?:sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}|(?:AKIA|ASIA)[0-9A-Z]{16}"
            r"|gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,}"
            r"|xox[abprs]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{35}|hf_[A-Za-z0-9]{30,})" + _NZ
        ),
        None,
        0,
        lambda t, low: any(k in t for k in _TOKEN_PREFIXES),
    ),
    (
        "secret",
        re.compile(
            r"(?i)(?<![A-Za-z0-9_])(?:api[_-]?key|api[_-]?secret|secret[_-]?key|access[_-]?key"
            r"|access[_-]?token|auth[_-]?token|client[_-]?secret|password|passwd|pwd|token|secret)"
            r"[\"']?\s*[:=]\s*(?P<q>[\"']?)(?P<val>[A-Za-z0-9_\-+/=.!@#$%^&*~]{6,})"
        ),
        _secret_value,
        "val",
        lambda t, low: ("=" in t or ":" in t) and any(k in low for k in _SECRET_WORDS),
    ),
    (
        "email",
        re.compile(
            r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
            r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}(?![A-Za-z0-9-])"
        ),
        None,
        0,
        lambda t, low: "@" in t,
    ),
    (
        "cn_id",
        re.compile(
            _NA
            + r"[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx]"
            + _NZ
        ),
        lambda s, m: cn_id_valid(s),
        0,
        lambda t, low: _D17_RE.search(t) is not None,
    ),
    (
        "bank_card",
        re.compile(_ND + r"[2-6]\d{3}(?:[ -]?\d){9,15}" + _NDZ),
        _card_valid,
        0,
        lambda t, low: _CARD_RE.search(t) is not None,
    ),
    (
        "phone",
        re.compile(
            r"(?<![0-9A-Za-z+])(?:(?:\+|00)86[ -]?|\(\+86\)\s?)?1[3-9]\d(?:[ -]?\d{4}){2}" + _NDZ
        ),
        None,
        0,
        lambda t, low: _MOBILE_RE.search(t) is not None,
    ),
    ("phone", re.compile(_ND + r"0\d{2,3}-\d{7,8}" + _NDZ), None, 0, lambda t, low: "-" in t),
    (
        "phone",
        re.compile(r"(?<![0-9A-Za-z])\+[1-9]\d{0,2}(?:[ .-]?\(?\d{1,4}\)?){2,5}" + _NDZ),
        _intl_phone_valid,
        0,
        lambda t, low: "+" in t,
    ),
    (
        "phone",
        re.compile(_ND + r"\(\d{3}\)\s?\d{3}-\d{4}" + _NDZ),
        None,
        0,
        lambda t, low: "(" in t,
    ),
    (
        "ip",
        re.compile(
            r"(?<![0-9.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}"
            r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?![0-9]|\.\d)"
        ),
        None,
        0,
        lambda t, low: _IPV4_RE.search(t) is not None,
    ),
    (
        "ip",
        re.compile(
            r"(?<![0-9A-Za-z_:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![0-9A-Za-z_:])"
        ),
        lambda s, m: _ipv6_valid(s),
        0,
        lambda t, low: _IPV6_RE.search(t) is not None,
    ),
]

KINDS: tuple[str, ...] = tuple(dict.fromkeys(d[0] for d in _DETECTORS))


@functools.lru_cache(maxsize=64)
def _chosen(kinds: frozenset[str] | None) -> tuple[_Detector, ...]:
    return tuple(d for d in _DETECTORS if kinds is None or d[0] in kinds)


_DIGIT_KINDS = frozenset({"cn_id", "bank_card", "phone"})


def find_pii(text: str, kinds: frozenset[str] | None = None) -> list[Finding]:
    """Non-overlapping findings in ``text``, sorted by position."""
    found: list[Finding] = []
    taken: list[tuple[int, int]] = []
    low = ""
    digits: bool | None = None
    for kind, pattern, valid, group, maybe in _chosen(kinds):
        if kind in _DIGIT_KINDS:
            if digits is None:
                digits = _D4_RE.search(text) is not None
            if not digits:
                continue
        if kind == "secret" and not low:
            low = text.lower()
        if not maybe(text, low):
            continue
        for m in pattern.finditer(text):
            start, end = m.span(group)
            value = m.group(group)
            if valid is not None and not valid(value, m):
                continue
            if any(s < end and start < e for s, e in taken):
                continue
            taken.append((start, end))
            found.append(Finding(kind, start, end, value))
    if len(found) > 1:
        found.sort(key=lambda f: f.start)
    return found
