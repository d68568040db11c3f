from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
        (
            (("user", "q"), ("assistant", "a"), ("user", " ")),
            "message 2 (user): empty user turn at the end (nothing answers it)",
        ),
    ],
)
def test_validate_names_the_problem(pairs: tuple[tuple[str, str], ...], problem: str) -> None:
    assert problem in validate_sample(_conv(*pairs))


def test_valid_conversation_has_no_problems() -> None:
    assert validate_sample(_conv(("system", "s"), ("user", "q"), ("assistant", "a"))) == []


# -- deferred content ids ------------------------------------------------------------------------
def test_deferred_id_is_the_content_id_on_first_access() -> None:
    import copy
    import dataclasses
    import pickle

    from sftforge.sample import deferred_ids, id_pending

    eager = _conv(("user", "你好"), ("assistant", "hi"))
    with deferred_ids():
        lazy = _conv(("user", "你好"), ("assistant", "hi"))
        given = _conv(("user", "你好"), ("assistant", "hi"), id="mine")
    assert id_pending(lazy) and not id_pending(given) and not id_pending(eager)
    assert given.id == "mine"
    assert lazy.id == eager.id and not id_pending(lazy)  # computed once, then kept
    for make in (
        lambda s: dataclasses.replace(s, meta={"k": 1}),
        lambda s: pickle.loads(pickle.dumps(s)),
        copy.deepcopy,
    ):
        with deferred_ids():
            fresh = _conv(("user", "你好"), ("assistant", "hi"))
        assert make(fresh).id == eager.id
    with deferred_ids():
        other = _conv(("user", "你好"), ("assistant", "hi"))
    assert other == eager and repr(other) == repr(eager)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = other.nope  # type: ignore[attr-defined]


def test_deferred_id_follows_a_change_made_before_it_is_read() -> None:
    """The documented limit: code that changes samples must read the id first (or not defer)."""
    from sftforge.sample import deferred_ids

    with deferred_ids():
        s = _conv(("user", "a"), ("assistant", "b"))
    s.messages[1].content = "changed"
    assert s.id == _conv(("user", "a"), ("assistant", "changed")).id


def test_ids_are_eager_outside_deferred_ids() -> None:
    from sftforge.sample import deferred_ids, id_pending

    with deferred_ids():
        pass
    assert not id_pending(_conv(("user", "a"), ("assistant", "b")))


# -- validate_sample: the fast path says what the full check says --------------------------------
_roles = st.sampled_from(["system", "user", "assistant", "tool", "critic"])
_contents = st.sampled_from(["", " ", "\u3000", "x", " 答 ", "\n"])


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.tuples(_roles, _contents, st.booleans()), max_size=6),
    st.booleans(),
)
def test_validate_fast_path_agrees_with_the_full_check(
    turns: list[tuple[str, str, bool]], require_answer: bool
) -> None:
    from sftforge.sample import _problems

    msgs = [
        Message(r, c, tool_calls=[ToolCall("f")] if call else None)  # type: ignore[arg-type]
        for r, c, call in turns
    ]
    s = Sample(msgs, id="x")
    assert validate_sample(s, require_answer=require_answer) == _problems(s, require_answer)


def test_message_is_plain_only_with_role_and_content() -> None:
    assert Message("user", "hi").is_plain()
    extras = [
        {"reasoning": "r"},
        {"tool_calls": [ToolCall("f")]},
        {"name": "n"},
        {"tool_call_id": "c1"},
        {"train": False},
    ]
    for extra in extras:
        assert not Message("assistant", "x", **extra).is_plain(), extra  # type: ignore[arg-type]
