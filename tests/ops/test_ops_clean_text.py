"""Tables for the line/character level cleaners: URLs, boilerplate, control characters,
whitespace, and the composite ``clean``."""

from __future__ import annotations

import pytest
from ops_helpers import map_text

import sftforge.ops.clean  # noqa: F401  (registers the operators)

URL_CASES = [
    ("see https://example.com/a?b=1 now", "see now"),
    ("访问https://example.cn/page了解更多", "访问了解更多"),
    ("访问https://example.cn/页面", "访问页面"),
    ("详见www.baidu.com。", "详见。"),
    ("(see http://x.org/y).", "(see)."),
    ("Go to https://a.b/c, then stop", "Go to, then stop"),
    ("ftp://files.example.org/pub is old", "is old"),
    ("email me at a@www.example.com", "email me at a@www.example.com"),
    ("run `curl https://x.io/install.sh`", "run `curl https://x.io/install.sh`"),
    ("no link here: example.com", "no link here: example.com"),
    ("read [the docs](https://x.io/d) first", "read the docs first"),
]


@pytest.mark.parametrize(("text", "expected"), URL_CASES)
def test_remove_urls(text: str, expected: str) -> None:
    assert map_text("remove_urls", text) == expected


def test_remove_urls_replacement() -> None:
    assert map_text("remove_urls", "见 https://a.cn/x 页", replacement="[URL]") == "见 [URL] 页"


BOILER_CASES = [
    ("正文内容\n关注公众号「某某」获取更多\n结尾", "正文内容\n结尾"),
    ("答案是42。\n扫码添加小助手", "答案是42。"),
    ("点击下载完整版\n第一步：打开设置", "第一步：打开设置"),
    ("The answer.\nClick here to subscribe!", "The answer."),
    ("Intro\nAll Rights Reserved 2024\nBody", "Intro\nBody"),
    ("请click here领取", ""),
    (
        "Many people subscribe to magazines because they enjoy reading long-form journalism "
        "on paper, and publishers still rely on that revenue to fund investigative reporting.",
        "Many people subscribe to magazines because they enjoy reading long-form journalism "
        "on paper, and publishers still rely on that revenue to fund investigative reporting.",
    ),
    ("Subscribers are people.", "Subscribers are people."),
    ("```\n# click here\n```", "```\n# click here\n```"),
]


@pytest.mark.parametrize(("text", "expected"), BOILER_CASES)
def test_remove_boilerplate(text: str, expected: str) -> None:
    assert map_text("remove_boilerplate", text) == expected


def test_remove_boilerplate_custom_patterns() -> None:
    text = "keep\nPromo: buy now\n关注公众号"
    assert map_text("remove_boilerplate", text, patterns=["^promo:"]) == "keep\n关注公众号"
    assert map_text("remove_boilerplate", text, extra_patterns=["^promo:"]) == "keep"


CONTROL_CASES = [
    ("a\x00b\x07c", "abc"),
    ("zero\u200bwidth\u200c\ufeff", "zerowidth"),
    ("soft\u00adhyphen", "softhyphen"),
    ("line1\r\nline2\rline3", "line1\nline2\nline3"),
    ("tab\tkept\nnewline", "tab\tkept\nnewline"),
    ("bidi\u202eevil\u202c", "bidievil"),
    ("family 👨\u200d👩\u200d👧", "family 👨\u200d👩\u200d👧"),
    ("中\u200d文", "中文"),
    ("c1\x85\x9fend", "c1end"),
    ("普通文本", "普通文本"),
]


@pytest.mark.parametrize(("text", "expected"), CONTROL_CASES)
def test_remove_control_chars(text: str, expected: str) -> None:
    assert map_text("remove_control_chars", text) == expected


WS_CASES = [
    ("a   b\t\tc", "a b c"),
    ("  indented\n    more", "indented\n    more"),
    ("p1\n\n\n\n\np2", "p1\n\np2"),
    ("trailing   \nnext", "trailing\nnext"),
    ("nbsp\u00a0here\u2003em", "nbsp here em"),
    ("中文\u3000全角空格", "中文\u3000全角空格"),
    ("x\r\ny", "x\ny"),
    ("text\n```py\ndef f():\n    return  1   \n```", "text\n```py\ndef f():\n    return  1\n```"),
    ("keep `a   b` inline", "keep `a   b` inline"),
    ("- item\n  - nested  item", "- item\n  - nested item"),
    ("\n\n  both ends  \n", "both ends"),
]


@pytest.mark.parametrize(("text", "expected"), WS_CASES)
def test_normalize_whitespace(text: str, expected: str) -> None:
    assert map_text("normalize_whitespace", text) == expected


def test_normalize_whitespace_options() -> None:
    assert map_text("normalize_whitespace", "a\u3000b", ideographic_space=True) == "a b"
    assert map_text("normalize_whitespace", "a\n\n\n\nb", max_blank_lines=0) == "a\nb"
    assert map_text("normalize_whitespace", "a\n\n\n\nb", max_blank_lines=None) == "a\n\n\n\nb"
    assert map_text("normalize_whitespace", "a  b", collapse_spaces=False) == "a  b"


CLEAN_CASES = [
    ("<p>Hello&nbsp;&nbsp;world</p>\u200b", {}, "Hello world"),
    ("<b>ＡＢＣ１２３</b>，你好！", {}, "ABC123，你好！"),
    ("cafÃ© <i>au lait</i>", {}, "café au lait"),
    ("見 https://x.tw 網頁", {"urls": True, "chinese": "t2s"}, "见 网页"),
    ("<b>x</b>", {"html": False}, "<b>x</b>"),
]


@pytest.mark.parametrize(("text", "options", "expected"), CLEAN_CASES)
def test_clean_composite(text: str, options: dict, expected: str) -> None:
    assert map_text("clean", text, **options) == expected


def test_normalize_whitespace_keeps_single_tabs() -> None:
    assert map_text("normalize_whitespace", "a\tb\nc \t d\t\n") == "a\tb\nc d"
