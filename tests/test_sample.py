from __future__ import annotations

import pytest

from sftforge import Message, Sample, ToolCall
from sftforge.sample import validate_sample


def _conv(*pairs: tuple[str, str], **kw: object) -> Sample:
    return Sample(messages=[Message(role=r, content=c) for r, c in pairs], **kw)  # type: ignore[arg-type]


def test_canonical_round_trip_keeps_everything() -> None:
    s = Sample(
        messages=[
            Message("system", "你是助手"),
            Message("user", "天气？"),
            Message("assistant", "", tool_calls=[ToolCall("weather", {"city": "北京"}, id="c1")]),
            Message("tool", '{"t": 3}', tool_call_id="c1", name="weather"),
            Message("assistant", "3 度", reasoning="看结果", train=True),
        ],
        tools=[{"name": "weather", "parameters": {"type": "object"}}],
        meta={"source": "x.jsonl", "line": 3},
    )
    back = Sample.from_json(s.to_json())
    assert back == s


def test_content_id_is_stable_and_ignores_meta() -> None:
    a = _conv(("user", "hi"), ("assistant", "hello"), meta={"k": 1})
    b = _conv(("user", "hi"), ("assistant", "hello"))
    c = _conv(("user", "hi"), ("assistant", "hello!"))
    assert a.id == b.id != c.id
    assert a.id.startswith("s")


@pytest.mark.parametrize(
    ("pairs", "problem"),
    [
        ((), "the conversation has no messages"),
        (
            (("user", "q"), ("system", "s"), ("assistant", "a")),
            "message 1 (system): a system turn may only come first",
        ),
        (
            (("assistant", "a"),),
            "message 0 (assistant): an assistant turn must follow a user or tool turn",
        ),
        (
            (("user", "q"), ("user", "q2"), ("assistant", "a")),
            "message 1 (user): two user turns in a row",
        ),
        ((("user", "q"), ("assistant", " ")), "there is no non-empty assistant answer"),
        ((("user", " "), ("assistant", "a")), "message 0 (user): empty user turn"),
    ],
)
def test_validate_names_the_problem(pairs: tuple[tuple[str, str], ...], problem: str) -> None:
    assert problem in validate_sample(_conv(*pairs))


def test_valid_conversation_has_no_problems() -> None:
    assert validate_sample(_conv(("system", "s"), ("user", "q"), ("assistant", "a"))) == []
