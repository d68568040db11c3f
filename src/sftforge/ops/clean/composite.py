"""``clean``: the common cleaning steps as one operator with a switch per step.

Steps run in a fixed order chosen so that each sees the input it expects: control characters,
mojibake, HTML, URLs, boilerplate lines, Unicode normal form, Chinese conversion, whitespace
(last, to tidy what the others left). Each switch is ``true``/``false``; ``chinese`` is an
OpenCC config name (``t2s``, ``s2t``...) or ``null`` for off. Use the single-step operators
when a step needs its own options.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..base import register_op
from ..text import TextMapper
from .boilerplate import RemoveBoilerplate
from .chinese import ConvertChinese
from .control import RemoveControlChars
from .html import CleanHtml
from .mojibake import FixMojibake
from .unicode import NormalizeUnicode
from .urls import RemoveUrls
from .whitespace import NormalizeWhitespace

__all__ = ["Clean"]


@dataclass(kw_only=True)
class Clean(TextMapper):
    """Several cleaning steps in one pass over each targeted message."""

    control: bool = True
    mojibake: bool = True
    html: bool = True
    urls: bool = False
    boilerplate: bool = False
    unicode: bool = True
    chinese: str | None = None
    whitespace: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        steps: list[TextMapper] = []
        if self.control:
            steps.append(RemoveControlChars())
        if self.mojibake:
            steps.append(FixMojibake())
        if self.html:
            steps.append(CleanHtml())
        if self.urls:
            steps.append(RemoveUrls())
        if self.boilerplate:
            steps.append(RemoveBoilerplate())
        if self.unicode:
            steps.append(NormalizeUnicode())
        if self.chinese is not None:
            steps.append(ConvertChinese(config=self.chinese))
        if self.whitespace:
            steps.append(NormalizeWhitespace())
        self._steps = steps

    def transform(self, text: str) -> str:
        for step in self._steps:
            text = step.transform(text)
        return text


register_op("clean")(Clean)
