"""``convert_chinese``: simplified/traditional Chinese conversion with OpenCC.

``config`` is any OpenCC configuration: ``t2s`` (traditional to simplified, the default),
``s2t``, ``s2tw``/``s2twp`` (Taiwan, with phrases), ``s2hk``, ``tw2s``/``tw2sp``, ``hk2s``,
``t2tw``, ``t2hk``, ``jp2t``, ``t2jp``. The converter is built lazily in each worker process
(OpenCC objects are not picklable) and shared by all operators using the same config. Texts
without any CJK character are returned as they are; code spans are left alone (``skip_code``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from ..base import register_op
from ..text import TextMapper, has_cjk, map_prose

__all__ = ["OPENCC_CONFIGS", "ConvertChinese"]

OPENCC_CONFIGS = (
    "s2t", "t2s", "s2tw", "tw2s", "s2hk", "hk2s", "s2twp", "tw2sp", "t2tw", "hk2t", "t2hk",
    "t2jp", "jp2t", "tw2t",
)  # fmt: skip


@functools.cache
def _converter(config: str) -> Any:
    import opencc

    return opencc.OpenCC(f"{config}.json")


@dataclass(kw_only=True)
class ConvertChinese(TextMapper):
    """Convert between simplified and traditional Chinese (OpenCC ``config``, default t2s)."""

    config: str = "t2s"
    skip_code: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.config not in OPENCC_CONFIGS:
            raise ValueError(
                f"unknown OpenCC config {self.config!r}; use one of: {', '.join(OPENCC_CONFIGS)}"
            )

    def transform(self, text: str) -> str:
        if not has_cjk(text):
            return text
        conv = _converter(self.config)
        return map_prose(text, conv.convert, skip_code=self.skip_code)


register_op("convert_chinese")(ConvertChinese)
