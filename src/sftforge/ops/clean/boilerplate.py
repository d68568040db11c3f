"""``remove_boilerplate``: drop short lines that are ads, calls to action or page furniture.

A line is removed when it matches one of the patterns (regular expressions, case-insensitive)
and is at most ``max_line_chars`` long, so a long paragraph that happens to mention
"subscribe" is kept. The defaults cover common Chinese and English web/WeChat furniture
(关注公众号, 扫码, 点击下载, 转载请注明, "Click here", "subscribe", "All rights reserved", ...). English
words are delimited with ASCII look-arounds, not ``\b``, so they match next to Chinese text.
``patterns`` replaces the defaults; ``extra_patterns`` adds to them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..base import register_op
from ..text import TextMapper, map_prose

__all__ = ["DEFAULT_BOILERPLATE", "RemoveBoilerplate"]

DEFAULT_BOILERPLATE: tuple[str, ...] = (
    # Chinese
    r"关注.{0,12}(?:公众号|微信号|微博|抖音|我们)",
    r"扫(?:描)?(?:码|二维码|一扫)",
    r"长按(?:识别)?二维码",
    r"点击(?:下载|阅读原文|关注|这里|此处|链接|购买|查看更多)",
    r"(?:免费)?下载.{0,6}(?:APP|客户端)",
    r"转载请(?:注明|联系)",
    r"(?:版权所有|未经授权.{0,8}(?:禁止|不得)转载)",
    r"(?:更多|精彩)(?:内容|资讯).{0,6}(?:请|敬请)?关注",
    r"(?:点赞|在看|转发|收藏).{0,4}(?:点赞|在看|转发|收藏|三连)",
    r"加(?:我|小编)?(?:微信|V信|QQ群?)",
    r"本文来源[:：]",
    r"责任编辑[:：]",
    # English
    r"(?<![a-z])click here(?![a-z])",
    r"(?<![a-z])subscribe(?![a-z])",
    r"(?<![a-z])sign up for (?:our|the) newsletter(?![a-z])",
    r"(?<![a-z])follow us on(?![a-z])",
    r"(?<![a-z])all rights reserved(?![a-z])",
    r"(?<![a-z])share (?:this|on) (?:facebook|twitter|x)(?![a-z])",
    r"(?<![a-z])read more(?![a-z])\s*(?:»|>>|\.\.\.|…)?\s*$",
    r"(?<![a-z])(?:cookie policy|privacy policy|terms of (?:use|service))(?![a-z])",
    r"(?<![a-z])download (?:our|the) app(?![a-z])",
    r"(?<![a-z])advertisement(?![a-z])",
    r"^\s*(?:sponsored|广告)\s*$",
)

# every default pattern contains one of these (lower-cased) strings: texts without any of them
# skip the regex, which cannot use a literal prefix and so tries every position
_DEFAULT_KEYS = (
    "关注", "扫", "长按", "点击", "下载", "转载", "版权", "授权", "内容", "资讯", "点赞", "在看",
    "转发", "收藏", "微信", "v信", "qq", "来源", "编辑", "click", "subscribe", "sign up",
    "follow us", "rights reserved", "share", "read more", "cookie", "privacy", "terms of",
    "download", "advertisement", "sponsored", "广告",
)  # fmt: skip


@dataclass(kw_only=True)
class RemoveBoilerplate(TextMapper):
    """Remove short lines matching ad/boilerplate patterns (defaults: Chinese + English)."""

    patterns: list[str] | None = None
    extra_patterns: list[str] = field(default_factory=list)
    max_line_chars: int | None = 120
    skip_code: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        pats = list(DEFAULT_BOILERPLATE if self.patterns is None else self.patterns)
        pats += self.extra_patterns
        for p in self.extra_patterns + (self.patterns or []):
            try:  # one by one, so the error names the pattern and a position inside it
                re.compile(p)
            except re.error as exc:
                raise ValueError(f"bad boilerplate pattern {p!r}: {exc}") from None
        self._re = re.compile("|".join(f"(?:{p})" for p in pats), re.IGNORECASE | re.MULTILINE)
        self._empty = not pats
        self._keys = _DEFAULT_KEYS if self.patterns is None and not self.extra_patterns else None

    def _is_boilerplate(self, line: str) -> bool:
        if self.max_line_chars is not None and len(line.strip()) > self.max_line_chars:
            return False
        return self._re.search(line) is not None

    def _prose(self, text: str) -> str:
        lines = text.split("\n")
        kept = [ln for ln in lines if not self._is_boilerplate(ln)]
        return text if len(kept) == len(lines) else "\n".join(kept)

    def transform(self, text: str) -> str:
        if self._empty:
            return text
        if self._keys is not None:
            low = text.lower()
            if not any(k in low for k in self._keys):
                return text
        if self._re.search(text) is None:
            return text
        out = map_prose(text, self._prose, skip_code=self.skip_code)
        return out.strip("\n") if out != text else text


register_op("remove_boilerplate")(RemoveBoilerplate)
