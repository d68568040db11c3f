"""Round trips at the value level: every format with itself, and every pair of formats."""

from __future__ import annotations

from typing import Any

import pytest
from formats_records import GOOD

from sftforge.errors import ConversionError
from sftforge.formats import FORMATS, LossLog, get_format
from sftforge.sample import Document, Sample

CASES = [(name, i) for name, records in GOOD.items() for i in range(len(records))]
SAMPLE_FORMATS = [n for n, f in FORMATS.items() if f.kind == "sample" and n in GOOD]


def _parse(name: str, i: int) -> Any:
    return get_format(name).parse(GOOD[name][i])


@pytest.mark.parametrize(("name", "i"), CASES)
def test_same_format_round_trip_gives_equal_samples(name: str, i: int) -> None:
    fmt = get_format(name)
    first = fmt.parse(GOOD[name][i])
    again = fmt.parse(fmt.dump(first, LossLog()))
    assert again == first  # full equality: id and meta included


def test_every_registered_format_has_fixtures() -> None:
    assert set(FORMATS) - {"native", "sftforge"} <= set(GOOD)


# records whose written form is exactly the input (the canonical layout of that format)
IDENTICAL = [
    ("alpaca", 0),
    ("alpaca", 2),
    ("alpaca", 3),
    ("alpaca", 4),
    ("alpaca", 7),
    ("sharegpt", 1),
    ("sharegpt", 2),
    ("sharegpt", 3),
    ("xtuner", 0),
    ("litgpt", 0),
    ("fastchat", 0),
    ("flat", 1),
    ("llamafactory_v1", 0),
    ("llamafactory_v1", 1),
    ("trl", 1),
    ("text", 1),
    ("text", 2),
]


@pytest.mark.parametrize(("name", "i"), IDENTICAL)
def test_canonical_records_are_written_back_unchanged(name: str, i: int) -> None:
    fmt = get_format(name)
    assert fmt.dump(fmt.parse(GOOD[name][i]), LossLog()) == GOOD[name][i]


@pytest.mark.parametrize("target", SAMPLE_FORMATS)
@pytest.mark.parametrize(("name", "i"), [c for c in CASES if c[0] != "text"])
def test_cross_format_round_trip_is_lossless_or_refused(name: str, i: int, target: str) -> None:
    source, dest = get_format(name), get_format(target)
    original = source.parse(GOOD[name][i])
    try:
        written = dest.dump(original, LossLog())
    except ConversionError as err:
        # refused: with --allow-lossy the same write goes through and counts what it dropped,
        # unless the conversation cannot be laid out in the target at all
        lossy = LossLog(allow=True)
        try:
            dest.dump(original, lossy)
        except ConversionError as again:
            assert str(again) == str(err)
            assert "needs" in err.message or "holds" in err.message or "</s>" in err.message
        else:
            assert sum(lossy.counts.values()) >= 1
        return
    through = dest.parse(written)
    assert through.same_content(original)
    back = source.parse(source.dump(through, LossLog()))
    assert back.same_content(original)


@pytest.mark.parametrize("i", range(len(GOOD["text"])))
def test_documents_round_trip_and_refuse_conversations(i: int) -> None:
    fmt = get_format("text")
    doc = fmt.parse(GOOD["text"][i])
    assert isinstance(doc, Document)
    assert fmt.parse(fmt.dump(doc, LossLog())) == doc
    with pytest.raises(ConversionError, match="holds plain documents"):
        fmt.dump(get_format("alpaca").parse(GOOD["alpaca"][0]), LossLog())


def test_lossy_write_counts_each_kind_once_per_sample() -> None:
    sample = _parse("openai", 0)  # system, tools, tool calls with ids, reasoning, train flag
    loss = LossLog(allow=True)
    out = get_format("alpaca").dump(sample, loss)
    assert out == {"instruction": "北京天气？", "input": "", "output": "3 度", "system": "你是助手"}
    assert dict(loss.counts) == {
        "tools": 1,
        "tool calls": 1,
        "reasoning": 1,
        "train flags": 1,
        "message names": 1,
    }


def test_strict_write_names_the_loss_and_the_fix() -> None:
    sample = _parse("sharegpt", 0)
    with pytest.raises(ConversionError) as exc:
        get_format("alpaca").dump(sample, LossLog())
    assert str(exc.value) == (
        f"sample {sample.id}: format 'alpaca' cannot carry tool calls; converting would lose it. "
        "Fix: choose a format that can carry it, or pass --allow-lossy to drop it and count the losses"
    )


def test_multi_turn_into_single_turn_keeps_the_first_exchange() -> None:
    sample = _parse("fastchat", 0)
    loss = LossLog(allow=True)
    assert get_format("litgpt").dump(sample, loss) == {
        "instruction": "Who are you?",
        "input": "",
        "output": "I am Vicuna.",
    }
    assert dict(loss.counts) == {"multi-turn": 1, "ids": 1}  # (litgpt has no id column)


def test_turn_order_that_no_pair_format_can_hold_is_refused() -> None:
    sample = Sample([])
    sample.messages = get_format("openai").parse(GOOD["openai"][1]).messages[::-1]
    with pytest.raises(ConversionError) as exc:
        get_format("alpaca").dump(sample, LossLog(allow=True))
    assert exc.value.message == (
        "format 'alpaca' needs alternating user/assistant turns ending with an answer; "
        "this sample has: assistant, user."
    )


@pytest.mark.parametrize(
    ("name", "i", "expected"),
    [
        ("alpaca", 0, {"prompt_input": "Good morning"}),
        ("alpaca", 1, {}),
        ("sharegpt", 0, {}),
        ("text", 1, {"fields": {"url": "http://x", "timestamp": "2020"}}),
    ],
)
def test_meta_stays_minimal(name: str, i: int, expected: dict[str, Any]) -> None:
    assert _parse(name, i).meta == expected


def test_ids_come_from_the_record_or_the_content() -> None:
    assert _parse("alpaca", 7).id == "row-7"
    assert _parse("openai", 2).id == "m-1"
    auto = _parse("alpaca", 1)
    assert auto.id.startswith("s") and len(auto.id) == 17
    assert "id" not in get_format("sharegpt").dump(auto, LossLog())  # content ids are not written
    assert get_format("fastchat").dump(auto, LossLog(allow=True))["id"] == auto.id


def test_every_counted_loss_is_a_documented_kind() -> None:
    from sftforge.formats._common import LOSS_KINDS

    seen: set[str] = set()
    for name, i in CASES:
        if name == "text":
            continue
        sample = _parse(name, i)
        for target in SAMPLE_FORMATS:
            loss = LossLog(allow=True)
            try:
                get_format(target).dump(sample, loss)
            except ConversionError:
                continue  # a layout the target cannot hold at all
            seen.update(loss.counts)
    assert seen <= set(LOSS_KINDS)
    assert {"tools", "tool calls", "system prompt", "multi-turn", "media"} <= seen
