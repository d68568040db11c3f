"""Text cleaning operators, one transformation per module, plus the composite ``clean``.

Importing this package registers: ``clean_html``, ``remove_urls``, ``remove_boilerplate``,
``remove_control_chars``, ``fix_mojibake``, ``normalize_unicode``, ``normalize_whitespace``,
``convert_chinese``, ``extract_think`` and ``clean``.
"""

from .boilerplate import DEFAULT_BOILERPLATE, RemoveBoilerplate
from .chinese import ConvertChinese
from .composite import Clean
from .control import RemoveControlChars, remove_control_chars
from .html import CleanHtml, strip_html
from .mojibake import FixMojibake, fix_mojibake
from .think import ExtractThink, split_think
from .unicode import NormalizeUnicode
from .urls import URL_RE, RemoveUrls
from .whitespace import NormalizeWhitespace

__all__ = [
    "DEFAULT_BOILERPLATE",
    "URL_RE",
    "Clean",
    "CleanHtml",
    "ConvertChinese",
    "ExtractThink",
    "FixMojibake",
    "NormalizeUnicode",
    "NormalizeWhitespace",
    "RemoveBoilerplate",
    "RemoveControlChars",
    "RemoveUrls",
    "fix_mojibake",
    "remove_control_chars",
    "split_think",
    "strip_html",
]
