"""The inline common cases of parse/dump (alpaca, sharegpt, openai and their kin) give exactly
what the general code gives: the same Sample (id and meta included), record, losses or error."""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from test_formats_properties import JSON, KEYS, samples

from sftforge.api import resolve_format
from sftforge.errors import SftforgeError
from sftforge.formats import (
    FORMATS,
    AlpacaFormat,
    LossLog,
    OpenAIFormat,
    ShareGPTFormat,
    get_format,
)
from sftforge.sample import Message, Sample, deferred_ids, validate_sample

NAMES = ["alpaca", "litgpt", "sharegpt", "fastchat", "openai"]
FAST = settings(
    max_examples=int(os.environ.get("SFTFORGE_HYPOTHESIS_EXAMPLES", "60")) * 3,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
_PLAIN = st.sampled_from(["问题", "answer", " x ", "", " ", "a\nb"])


def _outcome(fn: Any) -> Any:
    try:
        return ("ok", fn())
    except SftforgeError as err:
        return (type(err).__name__, str(err))


@st.composite
def plain_samples(draw: st.DrawFn) -> Sample:
    """Mostly the shape the fast paths take, sometimes one step off it."""
    roles = draw(st.lists(st.sampled_from(["user", "assistant", "system", "tool"]), max_size=5))
    if draw(st.booleans()):
        roles = ["user", "assistant"] * draw(st.integers(1, 2))
    msgs = [Message(r, draw(_PLAIN)) for r in roles]  # type: ignore[arg-type]
    meta: dict[str, Any] = {}
    if msgs and draw(st.booleans()):
        meta["prompt_input"] = draw(st.sampled_from(["x", "b", ""]))
    if draw(st.booleans()):  # kept fields, some named like a format's own keys
        meta["fields"] = draw(
            st.dictionaries(
                st.sampled_from(["category", "来源", "system", "id", "messages"]), JSON, max_size=2
            )
        )
    if msgs and draw(st.booleans()):
        msgs[0].extra = {"weight": draw(JSON)}
    sample_id = draw(st.sampled_from(["", "rec-1", "s0123456789abcdef"]))
    return Sample(msgs, sample_id, meta=meta)


def _any_sample(name: str) -> st.SearchStrategy[Sample]:
    return plain_samples() | samples(FORMATS["openai"].capabilities)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("lossy", [False, True])
def test_dump_fast_path_is_the_general_dump(name: str, lossy: bool) -> None:
    fmt = get_format(name)
    # the class with the fast path (a subclass such as fastchat adds to what it returns)
    base = next(c for c in (AlpacaFormat, ShareGPTFormat, OpenAIFormat) if isinstance(fmt, c))

    @FAST
    @given(_any_sample(name))
    def check(sample: Sample) -> None:
        fast, slow = LossLog(allow=lossy), LossLog(allow=lossy)
        got = _outcome(lambda: base.dump(fmt, sample, fast))  # type: ignore[arg-type]
        assert got == _outcome(lambda: base._dump(fmt, sample, slow))  # type: ignore[attr-defined]
        assert fast.counts == slow.counts

    check()


def _records(name: str) -> st.SearchStrategy[Any]:
    fmt = get_format(name)

    def written(sample: Sample) -> Any:
        try:
            return fmt.dump(sample, LossLog(allow=True))
        except SftforgeError:
            return {}

    return (
        (plain_samples() | samples(FORMATS["openai"].capabilities)).map(written)
        | st.dictionaries(st.sampled_from(KEYS), JSON, max_size=4)
        | st.fixed_dictionaries({"messages": st.lists(st.fixed_dictionaries({"role": _ROLE, "content": _PLAIN | JSON}))})
        | st.fixed_dictionaries({"conversations": st.lists(st.fixed_dictionaries({"from": _FROM, "value": _PLAIN | JSON}))})
        | st.fixed_dictionaries({"instruction": _PLAIN | JSON, "input": _PLAIN | JSON, "output": _PLAIN | JSON})
        # kept fields beside the core columns (and now and then a column that means more)
        | st.fixed_dictionaries(
            {"instruction": _PLAIN, "input": _PLAIN, "output": _PLAIN},
            optional={"category": JSON, "来源": _PLAIN, "history": JSON, "id": _PLAIN},
        )
        | st.fixed_dictionaries({"conversations": st.lists(st.fixed_dictionaries({"from": _FROM, "value": _PLAIN}, optional={"weight": JSON}))}, optional={"source": JSON})
        | st.fixed_dictionaries({"messages": st.lists(st.fixed_dictionaries({"role": _ROLE, "content": _PLAIN}, optional={"ts": JSON}))}, optional={"domain": JSON})
    )  # fmt: skip


_ROLE = st.sampled_from(["user", "assistant", "system", "tool", "gpt", 1])
_FROM = st.sampled_from(["human", "gpt", "system", "observation", "function_call", "user", None])


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("deferred", [False, True])
def test_parse_fast_path_is_the_general_parse(name: str, deferred: bool) -> None:
    fmt = get_format(name)
    base = next(c for c in (AlpacaFormat, ShareGPTFormat, OpenAIFormat) if isinstance(fmt, c))

    @FAST
    @given(_records(name))
    def check(record: Any) -> None:
        if deferred:
            with deferred_ids():
                fast = _outcome(lambda: base.parse(fmt, record))  # type: ignore[arg-type]
        else:
            fast = _outcome(lambda: base.parse(fmt, record))  # type: ignore[arg-type]
        slow = _outcome(lambda: base._parse(fmt, record))  # type: ignore[attr-defined]
        assert fast == slow
        if fast[0] == "ok":
            assert fast[1].meta == slow[1].meta and fast[1].id == slow[1].id

    check()


@pytest.mark.parametrize("name", [*NAMES, "swift", "xtuner", "llamafactory_v1", "sftforge"])
def test_a_deferred_id_writes_what_an_eager_one_writes(name: str) -> None:
    fmt = resolve_format(name)  # (registers the native format too)
    msgs = [Message("user", "问题"), Message("assistant", "answer")]
    eager = Sample(list(msgs))
    with deferred_ids():
        lazy = Sample(list(msgs))
    assert fmt.dump(lazy, LossLog()) == fmt.dump(eager, LossLog())


@pytest.mark.parametrize("name", [*NAMES, "swift"])
@pytest.mark.parametrize("require_answer", [True, False])
def test_parse_valid_is_parse_then_validate(name: str, require_answer: bool) -> None:
    """``parse_valid`` (convert's one call per record, fused in alpaca and litgpt) gives
    ``parse``'s Sample exactly when ``validate_sample`` passes it, else None or parse's error."""
    fmt = get_format(name)

    def reference(record: Any) -> Any:
        sample = fmt.parse(record)
        return None if validate_sample(sample, require_answer=require_answer) else sample

    @settings(FAST, max_examples=int(os.environ.get("SFTFORGE_HYPOTHESIS_EXAMPLES", "60")))
    @given(_records(name))
    # blank prompts and answers, which the fused checks must judge as validate_sample does
    @example({"instruction": " ", "input": "", "output": "x"})
    @example({"instruction": "", "input": " ", "output": "x"})
    @example({"instruction": "q", "input": "", "output": " "})
    @example({"instruction": "", "input": "", "output": "x"})
    @example({"query": " ", "response": "x"})
    def check(record: Any) -> None:
        with deferred_ids():
            fused = _outcome(lambda: fmt.parse_valid(record, require_answer))
            want = _outcome(lambda: reference(record))
        assert fused == want
        if fused[0] == "ok" and fused[1] is not None:
            assert fused[1].meta == want[1].meta and fused[1].id == want[1].id

    check()
