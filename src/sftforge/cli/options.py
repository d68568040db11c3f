"""Options several commands share, declared once without typer (``cli.params``): ``_common``
hands them to typer, the direct path reads them as they are."""

from __future__ import annotations

from .params import Param

__all__ = ["CHECK_TEXT", "COLUMNS", "MAX_RECORD_MB", "ON_ERROR", "STRICT"]

STRICT = Param(
    "strict", bool, "stop at the first bad record (default: write it to the rejects file and go on)",
    ("--strict",), default=False,
)  # fmt: skip

ON_ERROR = Param(
    "on_error", str, "skip (default): reject bad records and go on; raise: --strict",
    ("--on-error",), default=None,
)  # fmt: skip

CHECK_TEXT = Param(
    "check_text", bool,
    "reject records with NUL bytes, control characters, U+FFFD or mojibake (default) or keep them as they are",
    ("--check-text/--no-check-text",), default=True,
)  # fmt: skip

COLUMNS = Param(
    "columns", str,
    "column mapping instead of --from: SOURCE=PART,... e.g. 问题=prompt,答案=response "
    "(parts: prompt, query, response, system, history, messages, chosen, rejected, tools, "
    "label, id, meta.NAME; nested fields as data.q or turns[0].text)",
    ("--columns",), default=None,
)  # fmt: skip

MAX_RECORD_MB = Param(
    "max_record_mb", int,
    "largest record to read, in MiB (default 32); a longer one is rejected as too_large",
    ("--max-record-mb",), default=None, min=1,
)  # fmt: skip
