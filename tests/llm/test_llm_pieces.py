from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import pytest

from sftforge.llm import (
    JSONOutputError,
    backoff_delay,
    cache_key,
    estimate_tokens,
    parse_json_output,
    parse_retry_after,
    repair_json_text,
    split_reasoning,
    validate_schema,
)


@pytest.mark.parametrize(
    ("text", "field", "expected"),
    [
        ("plain answer", None, ("plain answer", None)),
        ("<think>step 1</think>\n\nthe answer", None, ("the answer", "step 1")),
        ("  <think>\n想一想\n</think>答案", None, ("答案", "想一想")),
        ("pre-filled reasoning</think>answer", None, ("answer", "pre-filled reasoning")),
        ("<think>cut off mid-thought", None, ("", "cut off mid-thought")),
        ("answer", "field reasoning", ("answer", "field reasoning")),
        ("<think>b</think>answer", "a", ("answer", "a\nb")),
        ("x <think>not first</think> y", None, ("x <think>not first</think> y", None)),
    ],
)
def test_split_reasoning(text: str, field: str | None, expected: tuple[str, str | None]) -> None:
    assert split_reasoning(text, field) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1}', {"a": 1}),
        ('```json\n{"a": 1}\n```', {"a": 1}),
        ('Sure! Here it is: {"a": [1, 2,],} Hope it helps.', {"a": [1, 2]}),
        ("{'a': 'it''s', 'b': True, 'c': None}", {"a": "its", "b": True, "c": None}),
        ("{'q': '他说\"好\"'}", {"q": '他说"好"'}),
        ('[{"x": "中文"},]', [{"x": "中文"}]),
    ],
)
def test_repair_json_text(text: str, expected: Any) -> None:
    assert repair_json_text(text) == expected


@pytest.mark.parametrize("text", ["no json here", "{broken: [", ""])
def test_repair_json_text_gives_up(text: str) -> None:
    with pytest.raises(JSONOutputError):
        repair_json_text(text)


SCORE = {
    "type": "object",
    "required": ["score", "why"],
    "properties": {
        "score": {"type": "integer", "minimum": 1, "maximum": 10},
        "why": {"type": "string", "minLength": 1},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
        "kind": {"enum": ["a", "b"]},
    },
    "additionalProperties": False,
}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"score": 3, "why": "x"}, []),
        ({"score": 3.0, "why": "x"}, []),
        ({"score": 11, "why": "x"}, ["$.score: 11 is above the maximum 10"]),
        ({"score": True, "why": "x"}, ["$.score: expected integer, got bool"]),
        ({"why": ""}, ["$: missing 'score'", "$.why: shorter than 1 characters"]),
        ({"score": 1, "why": "x", "z": 1}, ["$: unexpected key 'z'"]),
        (
            {"score": 1, "why": "x", "tags": ["a", 2, "c"]},
            ["$.tags: more than 2 items", "$.tags[1]: expected string, got int"],
        ),
        ({"score": 1, "why": "x", "kind": "c"}, ["$.kind: 'c' is not one of ['a', 'b']"]),
        ([], ["$: expected object, got list"]),
    ],
)
def test_validate_schema(value: Any, expected: list[str]) -> None:
    assert validate_schema(value, SCORE) == expected


def test_parse_json_output_coerces_boolean_strings() -> None:
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}}
    assert parse_json_output('{"ok": "Yes"}', schema) == {"ok": True}
    with pytest.raises(JSONOutputError, match="expected boolean"):
        parse_json_output('{"ok": "maybe"}', schema)


def test_parse_json_output_coerces_numeric_strings_then_validates() -> None:
    assert parse_json_output('```\n{"score": "7", "why": "ok"}\n```', SCORE) == {
        "score": 7,
        "why": "ok",
    }
    with pytest.raises(JSONOutputError, match="above the maximum"):
        parse_json_output('{"score": "70", "why": "ok"}', SCORE)


def test_retry_after_seconds_and_http_date() -> None:
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    later = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("0.5") == 0.5
    assert parse_retry_after(later, now=now.timestamp()) == 30.0
    assert parse_retry_after(format_datetime(now, usegmt=True), now=now.timestamp() + 9) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_backoff_grows_exponentially_with_jitter_and_cap() -> None:
    rng = random.Random(1)
    delays = [backoff_delay(n, base=1.0, max_delay=8.0, rng=rng) for n in range(6)]
    caps = [1, 2, 4, 8, 8, 8]
    assert all(c / 2 <= d <= c for d, c in zip(delays, caps, strict=True))
    assert len(set(delays)) == 6  # jittered


@pytest.mark.parametrize(
    ("text", "expected"), [("", 0), ("abcd", 1), ("abcde", 2), ("你好世界", 4), ("你好 ab", 3)]
)
def test_estimate_tokens(text: str, expected: int) -> None:
    assert estimate_tokens(text) == expected


def test_cache_key_depends_on_every_part() -> None:
    base = cache_key("openai", "m", {"t": 0}, [{"role": "user", "content": "hi"}])
    assert base == cache_key("openai", "m", {"t": 0}, [{"role": "user", "content": "hi"}])
    others = {
        cache_key("local", "m", {"t": 0}, [{"role": "user", "content": "hi"}]),
        cache_key("openai", "m2", {"t": 0}, [{"role": "user", "content": "hi"}]),
        cache_key("openai", "m", {"t": 1}, [{"role": "user", "content": "hi"}]),
        cache_key("openai", "m", {"t": 0}, [{"role": "user", "content": "hi!"}]),
    }
    assert base not in others and len(others) == 4
