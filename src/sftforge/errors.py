"""Every error sftforge raises on purpose.

    SftforgeError                 base; carries where it happened and what to do
    ├── InputError                a file or place cannot be opened, decoded or parsed
    │   └── FormatError           a record does not fit the format it was read as
    ├── SchemaError               a Sample breaks the record rules (role order, empty turn...)
    ├── ConversionError           a write would lose information (see --allow-lossy)
    ├── RecipeError               a recipe names an unknown operator/option or is malformed
    ├── TemplateError             a chat template is unknown or fails to render
    ├── TokenizeError             tokenization/masking cannot produce a valid row
    ├── LLMError                  a provider call failed for good
    │   └── BudgetExceeded        the token/cost budget is spent
    └── MissingDependency         an optional package is not installed (message has the pip line)

Errors are translated only at the edges: the CLI prints ``str(err)`` as one line and exits 1.
"""

from __future__ import annotations

__all__ = [
    "BudgetExceeded",
    "ConversionError",
    "EmptyAnswer",
    "FormatError",
    "InputError",
    "LLMError",
    "MissingDependency",
    "RecipeError",
    "SchemaError",
    "SftforgeError",
    "TemplateError",
    "TokenizeError",
    "one_line",
]


class SftforgeError(Exception):
    """Base error: a message plus the place (file, line, column, field, sample id) and a fix."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        field: str | None = None,
        sample_id: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.field = field
        self.sample_id = sample_id
        self.hint = hint

    @property
    def where(self) -> str:
        """``file:line:column`` (each part only when known), then ``field`` and sample id."""
        parts: list[str] = []
        loc = self.file or ""
        if self.line is not None:
            loc += f":{self.line}" if loc else f"line {self.line}"
            if self.column is not None:
                loc += f":{self.column}"
        if loc:
            parts.append(loc)
        if self.field:
            parts.append(f"field '{self.field}'")
        if self.sample_id:
            parts.append(f"sample {self.sample_id}")
        return ", ".join(parts)

    @property
    def reason(self) -> str:
        """The message without place or hint: what goes into a rejects file."""
        return self.message

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        if self.hint:
            text += f" Fix: {self.hint}"
        return one_line(text)


# line breaks and other control characters (a file named "a\nb.jsonl", a value quoted in a
# message) would split the one error line or hide part of it: they are shown escaped
_CONTROL = {c: f"\\x{c:02x}" for c in [*range(0x20), *range(0x7F, 0xA0)] if c != 0x09}
_CONTROL.update({0x0A: "\\n", 0x0D: "\\r", 0x2028: "\\u2028", 0x2029: "\\u2029"})


def one_line(text: str) -> str:
    """``text`` with line breaks and control characters escaped (``\\n``, ``\\x1b``)."""
    return text.translate(_CONTROL) if not text.isprintable() else text


class InputError(SftforgeError):
    """A file or place cannot be opened, decoded or parsed."""


class FormatError(InputError):
    """A record does not fit the format it is read as."""


class EmptyAnswer(FormatError):
    """A conversation (an SFT record) without an answer: a reader with answers optional reads it
    again as a prompt (``formats._common.no_answer``)."""


class SchemaError(SftforgeError):
    """A Sample breaks the record rules."""


class ConversionError(SftforgeError):
    """Writing would lose information the target format cannot carry."""


class RecipeError(SftforgeError):
    """A recipe is malformed or names unknown operators/options."""


class TemplateError(SftforgeError):
    """A chat template is unknown or fails to render."""


class TokenizeError(SftforgeError):
    """Tokenization or masking cannot produce a valid row."""


class LLMError(SftforgeError):
    """A provider call failed for good (after retries)."""


class BudgetExceeded(LLMError):
    """The configured token or cost budget is spent."""


class MissingDependency(SftforgeError):
    """An optional dependency is missing; the message holds the exact install command."""

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs the package '{package}', which is not installed.",
            hint=f"pip install 'sftforge[{extra}]'  (or: pip install {package})",
        )
        self.package = package
        self.extra = extra
