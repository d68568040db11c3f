from __future__ import annotations

import pytest
from ops_helpers import chat, map_text

import sftforge.ops.clean  # noqa: F401  (registers the operators)
from sftforge.ops.base import build_op
from sftforge.sample import Message

HTML_CASES = [
    ("<p>Hello <b>world</b></p>", "Hello world"),
    ("<p>第一段</p><p>第二段</p>", "第一段\n\n第二段"),
    ("line<br>next<br/>last", "line\nnext\nlast"),
    ("<ul>\n  <li>one</li>\n  <li>two</li>\n</ul>", "one\n\ntwo"),
    ("<p>根</p></div>&nbsp;&lt;html&gt; 元素", "根\n\n<html> 元素"),
    ("AT&amp;T &lt;3 &quot;ok&quot; &#20320;&#x597D;", 'AT&T <3 "ok" 你好'),
    ("<div class=\"x\" data-a='1'>价格 &yen;5</div>", "价格 ¥5"),
    ("<script>alert(1)</script>text<style>p{}</style>", "text"),
    ("<!-- note -->visible", "visible"),
    ("a < b and c > d", "a < b and c > d"),
    ("<noinput>", "<noinput>"),
    ("Use List<String> here", "Use List<String> here"),
    ("<think>keep</think>answer", "<think>keep</think>answer"),
    ("Use the `<div>` tag", "Use the `<div>` tag"),
    ("x\n```html\n<p>a &amp; b</p>\n```\n<b>y</b>", "x\n```html\n<p>a &amp; b</p>\n```\ny"),
    ("<pre><b>bold</b> &amp;</pre> <i>z</i>", "<pre><b>bold</b> &amp;</pre> z"),
    ("<code>&lt;br&gt;</code> and <em>e</em>", "<code>&lt;br&gt;</code> and e"),
    ("fish & chips", "fish & chips"),
    ("no markup at all", "no markup at all"),
]


@pytest.mark.parametrize(("text", "expected"), HTML_CASES)
def test_clean_html(text: str, expected: str) -> None:
    assert map_text("clean_html", text) == expected


def test_clean_html_skip_code_off_cleans_code_too() -> None:
    assert map_text("clean_html", "<pre><b>x</b></pre>", skip_code=False) == "<pre>x</pre>"


def test_clean_html_targets_only_chosen_roles() -> None:
    s = chat("<b>q</b>", "<b>a</b>", system="<i>s</i>")
    op = build_op("clean_html", {"targets": ["user"]})
    op.apply([s])
    assert [m.content for m in s.messages] == ["<i>s</i>", "q", "<b>a</b>"]
    assert op.counters.extra["clean_html.changed"] == 1


def test_clean_html_cleans_rejected_answer_with_assistant() -> None:
    s = chat("q", "<b>good</b>")
    s.rejected = Message("assistant", "<b>bad</b>")
    build_op("clean_html", {"targets": "assistant"}).apply([s])
    assert (s.messages[-1].content, s.rejected.content) == ("good", "bad")
