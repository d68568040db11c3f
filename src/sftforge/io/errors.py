"""``RecordError``: one record the container could not read, with a short ``kind`` for stats.

Readers never raise these for a single bad record: they put one on ``RawRecord.error`` so the
caller's policy (``on_error="raise" | "skip"``) decides. Whole-file problems (cannot open, empty,
unknown encoding) are raised as plain ``InputError``.
"""

from __future__ import annotations

from ..errors import InputError

__all__ = ["RecordError"]


class RecordError(InputError):
    """A record-level read failure. ``kind`` names the reason class (``invalid_json``, ``nul_bytes``...)."""

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, file=file, line=line, column=column, hint=hint)
        self.kind = kind

    def __reduce__(self) -> tuple[object, ...]:
        # pickled whole (convert's worker processes): the default would call cls(message)
        return (_rebuild, (type(self), self.kind, self.message), self.__dict__)


def _rebuild(cls: type[RecordError], kind: str, message: str) -> RecordError:
    return cls(kind, message)
