"""Keys outside the Sample model are kept (issue 16): a record's in ``meta["fields"]``, a turn's in
``Message.extra``; written back by every format that can hold them, a named loss elsewhere."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from sftforge.errors import ConversionError
from sftforge.formats import LossLog, format_from_entry, get_format
from sftforge.formats.native import NativeFormat
from sftforge.sample import Message, Sample, content_id

# COIG-CQIA-style columns, CJK values, a nested value, a null and numbers
COIG = {
    "task_type": {"major": ["问答"], "minor": ["百科"]},
    "domain": ["医疗", "通用"],
    "answer_from": "human",
    "human_verified": True,
    "copyright": "CC BY-NC 4.0",
    "score": 4.5,
    "note": None,
}

RECORDS: list[tuple[str, dict[str, Any]]] = [
    ("alpaca", {"instruction": "什么是SFT?", "input": "", "output": "监督微调。", **COIG}),
    (
        "alpaca",
        {
            "instruction": "翻译",
            "input": "hello",
            "output": "你好",
            "system": "你是翻译",
            "history": [["hi", "嗨"]],
            "category": "translation",
            "id": "a-1",
        },
    ),
    (
        "sharegpt",
        {
            "id": "c1",
            "conversations": [
                {"from": "human", "value": "你好", "weight": 0},
                {"from": "gpt", "value": "嗨", "weight": 1, "审核": {"结果": "通过"}},
            ],
            "source": "sharegpt-zh",
            **COIG,
        },
    ),
    (
        "sharegpt",
        {
            "conversations": [
                {"from": "system", "value": "s", "lang": "zh"},
                {"from": "human", "value": "q"},
                {"from": "function_call", "value": '{"name":"f","arguments":{}}', "t": 1},
                {"from": "observation", "value": "42", "t": 2},
                {"from": "gpt", "value": "a"},
            ],
            "tools": '[{"name":"f"}]',
            "source": "x",
        },
    ),
    (
        "openai",
        {
            "messages": [
                {"role": "system", "content": "s", "lang": "zh"},
                {"role": "user", "content": "问", "ts": "2024-03-05T15:30:00"},
                {"role": "assistant", "content": "答", "weight": 1, "quality": {"分": [1, 2]}},
            ],
            **COIG,
        },
    ),
    (
        "swift",
        {
            "messages": [
                {"role": "user", "content": "q", "lang": "en"},
                {"role": "tool_call", "content": '{"name":"f","arguments":{"x":1}}', "n": 1},
                {"role": "tool_response", "content": "1", "n": 2},
                {"role": "assistant", "content": "答"},
            ],
            "tools": '[{"name":"f"}]',
            "来源": "内部",
        },
    ),
    (
        "xtuner",
        {
            "conversation": [
                {"system": "s", "input": "q1", "output": "a1", "quality": 5},
                {"input": "问", "output": "答", "标签": ["好"]},
            ],
            "source": "x",
        },
    ),
    (
        "fastchat",
        {
            "id": "f1",
            "conversations": [
                {"from": "human", "value": "q", "lang": "zh"},
                {"from": "gpt", "value": "a"},
            ],
            "model": "vicuna",
        },
    ),
    (
        "trl",
        {
            "prompt": [{"role": "user", "content": "问", "ts": 1}],
            "chosen": [{"role": "assistant", "content": "好", "score": 9}],
            "rejected": [{"role": "assistant", "content": "坏", "score": 1}],
            "judge": {"model": "qwen", "分数": [9, 1]},
        },
    ),
    (
        "trl",
        {
            "prompt": [{"role": "user", "content": "q"}],
            "completion": [{"role": "assistant", "content": "a"}],
            "label": True,
            "domain": "数学",
        },
    ),
    (
        "llamafactory_v1",
        {
            "messages": [
                {"role": "user", "content": [{"type": "text", "value": "问"}], "lang": "zh"},
                {"role": "assistant", "content": [{"type": "text", "value": "答"}]},
            ],
            "source": "x",
            **COIG,
        },
    ),
    ("flat", {"text": "User: 问</s>\n Assistant: 答</s>", "source": "x"}),
]


@pytest.mark.parametrize(
    ("name", "record"), RECORDS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(RECORDS)]
)
def test_a_format_writes_back_the_keys_it_does_not_read(name: str, record: dict[str, Any]) -> None:
    fmt = get_format(name)
    original = copy.deepcopy(record)
    sample = fmt.parse(record)
    assert record == original  # reading does not change the record
    loss = LossLog(allow=False)  # nothing may be lost: a loss would raise
    assert fmt.dump(sample, loss) == original
    assert not loss.counts


def test_fields_keep_their_names_and_values_in_meta_fields() -> None:
    rec = {"instruction": "q", "input": "", "output": "a", **COIG}
    sample = get_format("alpaca").parse(rec)
    assert sample.meta == {"fields": COIG}
    assert list(sample.meta["fields"]) == list(COIG)  # input order


def test_turn_keys_go_to_the_message_extra() -> None:
    rec = RECORDS[2][1]
    sample = get_format("sharegpt").parse(rec)
    assert [m.extra for m in sample.messages] == [
        {"weight": 0},
        {"weight": 1, "审核": {"结果": "通过"}},
    ]
    assert sample.meta["fields"]["source"] == "sharegpt-zh"


def test_extras_are_not_content_so_the_id_does_not_change() -> None:
    """Extras, like meta, are annotations: the content id is the conversation's."""
    plain = Sample([Message("user", "q"), Message("assistant", "a")])
    marked = Sample([Message("user", "q", extra={"ts": 1}), Message("assistant", "a")])
    assert content_id(plain) == content_id(marked)
    assert plain.same_content(marked)
    assert plain != marked  # but the samples differ


def test_native_keeps_fields_and_extras() -> None:
    sample = Sample(
        [Message("user", "问", extra={"ts": 1}), Message("assistant", "答")],
        id="n1",
        meta={"fields": {"来源": "x", "nested": {"a": [1]}}},
    )
    fmt = NativeFormat()
    record = fmt.dump(sample, LossLog())
    assert record["messages"][0]["extra"] == {"ts": 1}
    assert fmt.parse(record) == sample
    assert fmt.detect(record) > 0.9


def test_a_dataset_info_entry_keeps_unconfigured_columns() -> None:
    fmt = format_from_entry("faq", {"columns": {"prompt": "问题", "response": "答案"}})
    rec = {"问题": "怎么退货?", "答案": "七天内。", "类别": "售后", "human_verified": False}
    sample = fmt.parse(rec)
    assert sample.meta["fields"] == {"类别": "售后", "human_verified": False}
    # (the entry's query column is LLaMA-Factory's default 'input', always written)
    assert fmt.dump(sample, LossLog()) == {**rec, "input": ""}


def test_fields_travel_to_other_formats() -> None:
    sample = get_format("alpaca").parse({"instruction": "q", "output": "a", "category": "c"})
    assert get_format("sharegpt").dump(sample, LossLog())["category"] == "c"
    assert get_format("openai").dump(sample, LossLog())["category"] == "c"
    back = get_format("openai").parse(get_format("openai").dump(sample, LossLog()))
    assert back.meta["fields"] == {"category": "c"}


# -- losses ---------------------------------------------------------------------------------------
def _lossy(sample: Sample, target: str) -> tuple[Any, dict[str, int]]:
    with pytest.raises(ConversionError) as exc:
        get_format(target).dump(sample, LossLog(allow=False))
    loss = LossLog(allow=True)
    out = get_format(target).dump(sample, loss)
    return (exc.value, out), dict(loss.counts)


def test_litgpt_cannot_hold_fields_a_named_loss() -> None:
    sample = get_format("alpaca").parse({"instruction": "q", "output": "a", "category": "c"})
    (err, out), counts = _lossy(sample, "litgpt")
    assert "extra fields" in err.message and "--allow-lossy" in (err.hint or "")
    assert counts == {"extra fields": 1}
    assert out == {"instruction": "q", "input": "", "output": "a"}


def test_alpaca_cannot_hold_turn_keys_a_named_loss() -> None:
    sample = get_format("sharegpt").parse(RECORDS[2][1])
    (err, out), counts = _lossy(sample, "alpaca")
    assert "extra turn fields" in err.message
    assert counts == {"extra turn fields": 1}
    assert out["source"] == "sharegpt-zh"  # the top-level fields still fit


def test_a_field_named_like_a_target_column_is_lost_not_misread() -> None:
    """An OpenAI record's top-level 'system' key written as Alpaca's system column would become a
    system prompt: it is a loss instead."""
    rec = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    sample = get_format("openai").parse({**rec, "system": "not a prompt", "topic": "t"})
    (_, out), counts = _lossy(sample, "alpaca")
    assert counts == {"extra fields": 1}
    assert "system" not in out and out["topic"] == "t"


def test_a_turn_key_named_like_a_target_turn_key_is_lost() -> None:
    rec = {
        "conversations": [
            {"from": "human", "value": "q"},
            {"from": "gpt", "value": "a", "weight": "high"},
        ]
    }
    sample = get_format("sharegpt").parse(rec)
    (_, out), counts = _lossy(sample, "openai")
    assert counts == {"extra turn fields": 1}
    assert "weight" not in out["messages"][1]


def test_flat_cannot_hold_turn_keys() -> None:
    sample = get_format("openai").parse(RECORDS[4][1])
    loss = LossLog(allow=True)
    get_format("flat").dump(sample, loss)
    assert loss.counts["extra turn fields"] == 1


# -- docs -----------------------------------------------------------------------------------------
DOC = Path(__file__).parents[2] / "docs" / "formats.md"


def test_the_docs_example_on_fields_runs() -> None:
    section = DOC.read_text(encoding="utf-8").split("## Fields outside the Sample model")[1]
    code = section.split("```python\n")[1].split("```")[0]
    exec(compile(code, str(DOC), "exec"), {})


def test_the_capabilities_table_is_what_the_formats_declare() -> None:
    lines = DOC.read_text(encoding="utf-8").splitlines()
    at = next(i for i, ln in enumerate(lines) if ln.startswith("| format | system |"))
    names = [c.strip() for c in lines[at].strip("|").split("|")][1:]
    table = lines[at + 2 : lines.index("", at)]
    rows = [ln for ln in table if "documents only" not in ln]
    assert len(rows) == 11
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        caps = get_format(cells[0].strip("`")).capabilities
        assert {n: getattr(caps, n) for n in names} == {
            n: v == "yes" for n, v in zip(names, cells[1:], strict=True)
        }, cells[0]


def test_an_own_id_a_target_cannot_hold_is_a_named_loss() -> None:
    """Like any other field, a record's own id does not vanish silently (content ids do not
    count: they are recomputed)."""
    own = get_format("alpaca").parse({"id": "q-7", "instruction": "q", "output": "a"})
    (err, out), counts = _lossy(own, "litgpt")
    assert "cannot carry ids" in err.message and counts == {"ids": 1}
    assert "id" not in out
    (_, out), counts = _lossy(own, "flat")
    assert counts == {"ids": 1}
    plain = get_format("alpaca").parse({"instruction": "q", "output": "a"})
    assert get_format("litgpt").dump(plain, LossLog()) == {
        "instruction": "q",
        "input": "",
        "output": "a",
    }


def test_null_keys_are_kept_but_never_a_loss() -> None:
    """OpenAI exports carry "refusal": null in every message and Parquet unions null columns:
    written back where they fit, and dropping them elsewhere loses nothing."""
    rec = {
        "messages": [
            {"role": "user", "content": "q", "refusal": None},
            {"role": "assistant", "content": "a", "refusal": None, "audio": None},
        ],
        "source": None,
    }
    sample = get_format("openai").parse(rec)
    assert sample.messages[1].extra == {"refusal": None, "audio": None}
    assert get_format("openai").dump(sample, LossLog()) == rec
    strict = LossLog(allow=False)
    assert get_format("alpaca").dump(sample, strict) == {
        "instruction": "q",
        "input": "",
        "output": "a",
        "source": None,
    }
    assert get_format("litgpt").dump(sample, strict) == {
        "instruction": "q",
        "input": "",
        "output": "a",
    }
    assert not strict.counts
