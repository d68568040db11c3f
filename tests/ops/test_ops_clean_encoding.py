"""Mojibake repair, Unicode normal forms / full-width policy, Chinese conversion, think blocks."""

from __future__ import annotations

import pytest
from ops_helpers import chat, map_text

import sftforge.ops.clean  # noqa: F401  (registers the operators)
from sftforge.ops.base import build_op
from sftforge.sample import Message

MOJIBAKE_CASES = [
    ("cafÃ©", "café"),
    ("Itâ€™s â€œquotedâ€\x9d", "It’s “quoted”"),
    ("Ã©tÃ© 你好", "été 你好"),
    ("å¤©æ°”å¾ˆå¥½", "天气很好"),
    ("cafÃƒÂ©", "café"),  # encoded twice
    ("浣犲ソ", "你好"),  # UTF-8 read as GBK
    ("hello 浣犲ソ world", "hello 你好 world"),
    ("浣犲ソ涓栫晫锛屼粖澶╁ぉ姘斿緢濂�", "你好世界，今天天气很�"),  # last byte already lost
    ("ÎÒÃÇ½ñÌìÈ¥±±¾©", "我们今天去北京"),  # GBK read as latin-1
    # left alone: genuine text in many scripts
    ("créée naïve Ärger straße", "créée naïve Ärger straße"),
    ("中华人民共和国今天天气很好", "中华人民共和国今天天气很好"),
    ("我們今天去臺北看電影", "我們今天去臺北看電影"),
    ("日本語のテキスト", "日本語のテキスト"),
    ("价格：¥100 ±5°C ½", "价格：¥100 ±5°C ½"),
    ("Ελληνικά и русский", "Ελληνικά и русский"),
    ("龘靐齉", "龘靐齉"),
]


@pytest.mark.parametrize(("text", "expected"), MOJIBAKE_CASES)
def test_fix_mojibake(text: str, expected: str) -> None:
    assert map_text("fix_mojibake", text) == expected


UNICODE_CASES = [
    ("ＡＢＣ１２３ｘｙｚ", {}, "ABC123xyz"),
    ("你好，世界！（测试）：是；吗？", {}, "你好，世界！（测试）：是；吗？"),
    ("你好，世界！", {"fullwidth_punct": True}, "你好,世界!"),
    ("ＡＢＣ", {"fullwidth_alnum": False}, "ＡＢＣ"),
    ("中文。、「引号」《书名》", {}, "中文。、「引号」《书名》"),
    ("E=mc² H₂O", {}, "E=mc² H₂O"),
    ("E=mc² H₂O", {"keep_scripts": False}, "E=mc2 H2O"),
    ("ﬁne ① ™", {}, "fine 1 TM"),
    ("a\u3000b", {}, "a\u3000b"),
    ("a\u3000b", {"ideographic_space": True}, "a b"),
    ("ｶﾀｶﾅ", {}, "カタカナ"),
    ("ｶﾀｶﾅ", {"form": "NFC"}, "カタカナ"),
    ("ｶﾀｶﾅ", {"form": "NFC", "halfwidth_kana": False}, "ｶﾀｶﾅ"),
    ("e\u0301", {"form": "NFC"}, "é"),
    ("ＡＢ `ｘ＝１`", {}, "AB `ｘ＝１`"),
    ("plain ascii", {}, "plain ascii"),
]


@pytest.mark.parametrize(("text", "options", "expected"), UNICODE_CASES)
def test_normalize_unicode(text: str, options: dict, expected: str) -> None:
    assert map_text("normalize_unicode", text, **options) == expected


def test_normalize_unicode_rejects_bad_form() -> None:
    from sftforge.errors import RecipeError

    with pytest.raises(RecipeError, match="'form' must be one of"):
        build_op("normalize_unicode", {"form": "NFX"})


CHINESE_CASES = [
    ("漢字簡體，電腦軟體", {}, "汉字简体，电脑软体"),
    ("汉字简体，电脑软件", {"config": "s2twp"}, "漢字簡體，電腦軟體"),
    ("English only", {}, "English only"),
    ("說明 `print('繁體')`", {}, "说明 `print('繁體')`"),
]


@pytest.mark.parametrize(("text", "options", "expected"), CHINESE_CASES)
def test_convert_chinese(text: str, options: dict, expected: str) -> None:
    assert map_text("convert_chinese", text, **options) == expected


def test_convert_chinese_unknown_config_lists_valid() -> None:
    from sftforge.errors import RecipeError

    with pytest.raises(RecipeError, match="t2s"):
        build_op("convert_chinese", {"config": "x2y"})


THINK_CASES = [
    ("<think>推理过程</think>答案", {}, ("答案", "推理过程")),
    ("<think>\nstep 1\n</think>\n\nThe answer is 4.", {}, ("The answer is 4.", "step 1")),
    ("<think>\n\n</think>\n\n直接回答", {}, ("直接回答", None)),
    ("<think>a</think>x<think>b</think>y", {}, ("xy", "a\n\nb")),
    ("lost opening</think>answer", {}, ("answer", "lost opening")),
    ("<think>never closed", {}, ("<think>never closed", None)),
    ("<think>never closed", {"unclosed": "reasoning"}, ("", "never closed")),
    ("<think>r</think>answer", {"mode": "remove"}, ("answer", None)),
    ("<reasoning>r</reasoning>a", {"tags": ["think", "reasoning"]}, ("a", "r")),
    ("no tags here", {}, ("no tags here", None)),
]


@pytest.mark.parametrize(("text", "options", "expected"), THINK_CASES)
def test_extract_think(text: str, options: dict, expected: tuple) -> None:
    s = chat("<think>user text stays</think>", text)
    build_op("extract_think", options).apply([s])
    ans = s.messages[-1]
    assert (ans.content, ans.reasoning) == expected
    assert s.messages[0].content == "<think>user text stays</think>"


def test_extract_think_appends_to_existing_reasoning() -> None:
    s = chat("q", "<think>more</think>done")
    s.messages[-1].reasoning = "first"
    s.rejected = Message("assistant", "<think>r2</think>worse")
    build_op("extract_think").apply([s])
    assert (s.messages[-1].reasoning, s.rejected.content, s.rejected.reasoning) == (
        "first\n\nmore",
        "worse",
        "r2",
    )
