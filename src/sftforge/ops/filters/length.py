"""``length_filter``: length of the targeted messages in characters, words or tokens.

``unit``: ``chars`` (Unicode code points), ``words`` (each CJK character is one word, other
scripts are split on anything that is not a letter or digit, so ``"Hello, world!"`` is 2 and
``"你好world"`` is 3) or ``tokens`` (needs ``tokenizer``: a ``tokenizer.json`` file or a folder
holding one, loaded with the ``tokenizers`` package from the ``chat`` extra, never downloaded).
``aggregate``: ``sum`` over the targeted messages (default), or ``max``/``min`` of the
per-message lengths (``min`` with ``targets: [assistant]`` catches one short answer in a long
conversation). A sample with no targeted message has length 0.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ...errors import MissingDependency, RecipeError
from ...sample import Sample
from ..base import register_op
from ..text import count_words, selector
from .threshold import RangeFilter

__all__ = ["LengthFilter", "load_tokenizer"]


@functools.lru_cache(maxsize=8)
def load_tokenizer(path: str) -> Any:
    """A ``tokenizers.Tokenizer`` from a tokenizer.json file or a folder that holds one."""
    try:
        from tokenizers import Tokenizer
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependency("tokenizers", "chat", "counting tokens") from exc
    from ...chat.tokenizer_source import is_model_id, resolve_tokenizer

    p = resolve_tokenizer(path) if is_model_id(path) else Path(path)  # a model id: in a cache
    file = p / "tokenizer.json" if p.is_dir() else p
    if not file.is_file():
        raise RecipeError(
            f"length_filter: no tokenizer.json at '{path}'.",
            field="tokenizer",
            hint="give a tokenizer.json file or a local model folder containing one",
        )
    return Tokenizer.from_file(str(file))


@dataclass(kw_only=True)
class LengthFilter(RangeFilter):
    """Keep samples whose targeted text length (chars/words/tokens) is within min/max."""

    unit: Literal["chars", "words", "tokens"] = "chars"
    aggregate: Literal["sum", "max", "min"] = "sum"
    tokenizer: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.unit not in ("chars", "words", "tokens"):
            raise ValueError(f"unit must be chars, words or tokens, not {self.unit!r}")
        if self.aggregate not in ("sum", "max", "min"):
            raise ValueError(f"aggregate must be sum, max or min, not {self.aggregate!r}")
        if self.unit == "tokens" and not self.tokenizer:
            raise ValueError("unit 'tokens' needs 'tokenizer' (a tokenizer.json path)")
        self.label = self.label or self.unit

    def metric_params(self) -> str:
        p = self.unit if self.aggregate == "sum" else f"{self.unit}.{self.aggregate}"
        if self.unit == "tokens":
            p += f"[{Path(str(self.tokenizer)).name}]"
        return p

    def _measure(self, text: str) -> int:
        if self.unit == "chars":
            return len(text)
        if self.unit == "words":
            return count_words(text)
        tok = load_tokenizer(str(self.tokenizer))
        return len(tok.encode(text, add_special_tokens=False).ids)

    def stats(self, sample: Sample) -> int:
        msgs = selector(self.targets).messages(sample)
        if self.unit == "chars" and self.aggregate == "sum":
            # the common case, without _measure calls (a loop: no generator for two messages)
            total = 0
            for m in msgs:
                total += len(m.content)
            return total
        lengths = [self._measure(m.content) for m in msgs]
        if not lengths:
            return 0
        if self.aggregate == "max":
            return max(lengths)
        if self.aggregate == "min":
            return min(lengths)
        return sum(lengths)


register_op("length_filter")(LengthFilter)
