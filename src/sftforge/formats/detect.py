"""Guess a file's format from its first records (sqlite-utils style: sniff, report, overridable).

Every registered format scores each of the first ``limit`` record values in [0, 1]; the best
mean wins, ties going to the format registered first. When nothing scores at least
``threshold`` the error names the keys that were found, so the user can pick ``--from``.
"""

from __future__ import annotations

from typing import Any

from ..errors import FormatError
from .base import FORMATS, get_format

__all__ = ["detect_format"]


def _keys_found(values: list[Any]) -> str:
    keys: dict[str, None] = {}
    for v in values:
        if type(v) is dict:
            keys.update(dict.fromkeys(str(k) for k in v))
        elif type(v) is list:
            keys["(a list)"] = None
        else:
            keys[f"({type(v).__name__})"] = None
    return ", ".join(list(keys)[:30]) or "none"


def _unknown_role(values: list[Any]) -> None:
    """Raise a clear error when records look like chats (a ``messages`` list of role/content
    turns) but use a role no format knows: that, not the keys, is why nothing fits."""
    from ._common import ROLES

    known = {*ROLES, "tool_call", "tool_response", "human", "gpt", "observation", "function_call"}
    for n, v in enumerate(values):
        msgs = v.get("messages") if type(v) is dict else None
        if type(msgs) is not list:
            continue
        for i, m in enumerate(msgs):
            role = m.get("role") if type(m) is dict else None
            if type(role) is str and role not in known:
                raise FormatError(
                    f"cannot detect the format: record {n + 1} has the unknown role {role!r} in "
                    f"'messages[{i}].role'.",
                    field=f"messages[{i}].role",
                    hint=f"use the roles {', '.join(ROLES)} (rename {role!r} in the file), "
                    "or pass --from with the format the file is in",
                )


def detect_format(
    values: list[Any],
    *,
    override: str | None = None,
    candidates: list[str] | None = None,
    limit: int = 100,
    threshold: float = 0.5,
) -> tuple[str, float]:
    """The name of the format the record ``values`` are in, and the confidence.

    ``override`` (the user's ``--from``) is returned as is after checking it exists;
    ``candidates`` limits the choice; ``None`` values (records the container could not parse)
    are skipped.
    """
    if override is not None:
        get_format(override)
        return override, 1.0
    sample = [v for v in values[:limit] if v is not None]
    if not sample:
        raise FormatError(
            "cannot detect the format: there are no records to look at.",
            hint="check the file is not empty, or pass --from FORMAT",
        )
    names = candidates if candidates is not None else list(FORMATS)
    best, best_score = "", 0.0
    for name in names:
        fmt = get_format(name)
        score = sum(fmt.detect(v) for v in sample) / len(sample)
        if score > best_score:
            best, best_score = name, score
    if best_score < threshold:
        _unknown_role(sample)
        raise FormatError(
            f"cannot detect the format: no known format fits records with keys: {_keys_found(sample)}.",
            hint=f"pass --from with one of: {', '.join(sorted(names))}",
        )
    return best, round(best_score, 3)
