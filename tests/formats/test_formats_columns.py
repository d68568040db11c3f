"""Column mapping (formats/columns.py, formats/mapped.py): every part, nested paths, meta, errors,
and the dataset_info.json mapping built as the same object."""

from __future__ import annotations

from typing import Any

import pytest

from sftforge.errors import FormatError
from sftforge.formats import AlpacaFormat, ShareGPTFormat, TextFormat, format_from_entry
from sftforge.formats.base import LossLog
from sftforge.formats.columns import ColumnMap, path_steps
from sftforge.formats.columns_guess import propose_columns
from sftforge.formats.mapped import MappedFormat
from sftforge.sample import Message


def _read(spec: str | dict[str, str], record: dict[str, Any]) -> dict[str, Any]:
    return ColumnMap.coerce(spec).format().parse(record).to_dict()


def _turns(d: dict[str, Any]) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in d["messages"]]


@pytest.mark.parametrize(
    ("path", "steps"),
    [
        ("问题", None),
        ("data.q", ("data", "q")),
        ("conversation[0].text", ("conversation", 0, "text")),
        ("turns[-1]", ("turns", -1)),
        ("a.b[2].c", ("a", "b", 2, "c")),
        ("a..b", None),  # not a path: only ever a field's whole name
    ],
)
def test_path_syntax(path: str, steps: tuple[Any, ...] | None) -> None:
    assert path_steps(path) == steps


def test_cli_spec_and_mapping_give_the_same_map() -> None:
    a = ColumnMap.parse("问题=prompt, 答案=response,类别=meta.category")
    b = ColumnMap.from_mapping({"问题": "prompt", "答案": "response", "类别": "meta.category"})
    assert a == b
    assert (dict(a.columns), dict(a.meta)) == (
        {"prompt": "问题", "response": "答案"},
        {"category": "类别"},
    )
    assert a.spec() == "问题=prompt,答案=response,类别=meta.category"
    assert ColumnMap.parse(a.spec()) == a


def test_spec_quotes_only_what_a_shell_needs() -> None:
    assert ColumnMap.parse("my q=prompt,a=response").spec() == "'my q=prompt,a=response'"
    assert ColumnMap.parse("t[0].q=prompt").spec() == "'t[0].q=prompt'"


def test_alpaca_parts_system_query_history_and_meta() -> None:
    rec = {
        "问": "翻译",
        "补": "hello",
        "答": "你好",
        "sys": "你是翻译",
        "hist": [["早", "早上好"]],
        "类别": "翻译",
        "extra": 1,
    }
    spec = "问=prompt,补=input,答=output,sys=system,hist=history,类别=meta.category"
    d = _read(spec, rec)
    assert _turns(d) == [
        ("system", "你是翻译"),
        ("user", "早"),
        ("assistant", "早上好"),
        ("user", "翻译\nhello"),
        ("assistant", "你好"),
    ]
    # named meta fields by their meta name, unmapped fields under their own names
    assert d["meta"] == {"prompt_input": "hello", "category": "翻译", "fields": {"extra": 1}}


def test_nested_paths_read_dicts_lists_and_json_text() -> None:
    rec = {
        "data": {"q": "Q?", "a": "A."},
        "conversation": [{"text": "be brief"}],
        "info": '{"lang": "zh"}',  # a JSON object kept as text (a CSV cell)
        "kept": True,
    }
    spec = "data.q=prompt,data.a=response,conversation[0].text=system,info.lang=meta.lang"
    d = _read(spec, rec)
    assert _turns(d) == [("system", "be brief"), ("user", "Q?"), ("assistant", "A.")]
    assert d["meta"] == {"lang": "zh", "fields": {"kept": True}}


def test_a_field_named_with_a_dot_is_matched_whole_first() -> None:
    d = _read("q.1=prompt,a.1=response", {"q.1": "Q", "a.1": "A"})
    assert _turns(d) == [("user", "Q"), ("assistant", "A")]


def test_spreadsheet_values_become_text_where_text_is_expected() -> None:
    d = _read("q=prompt,a=response,s=system", {"q": 12, "a": 3.0, "s": None})
    assert _turns(d) == [("user", "12"), ("assistant", "3")]
    d = _read("q=prompt,a=response", {"q": "ok?", "a": 2.5})
    assert _turns(d)[-1] == ("assistant", "2.5")


def test_empty_cell_is_an_empty_answer_named_by_its_column() -> None:
    fmt = ColumnMap.parse("问题=prompt,答案=response").format()
    s = fmt.parse({"问题": "q", "答案": None})  # read as a prompt alone; validation judges it
    assert [m.role for m in s.messages] == ["user"]
    with pytest.raises(FormatError) as info:
        fmt.parse({"问题": "", "答案": "a"})
    assert info.value.field == "问题"
    assert "'问题' is empty" in info.value.message


def test_preference_kto_tools_id_and_media_parts() -> None:
    pref = _read("q=prompt,good=chosen,bad=rejected", {"q": "pick", "good": "yes", "bad": "no"})
    assert _turns(pref)[-1] == ("assistant", "yes")
    assert pref["rejected"] == {"role": "assistant", "content": "no"}
    kto = _read("q=prompt,a=response,ok=label", {"q": "x", "a": "y", "ok": "TRUE"})
    assert kto["label"] is True
    tools = '[{"name": "f", "description": "d", "parameters": {}}]'
    d = _read(
        "q=prompt,a=response,t=tools,编号=id,图=images",
        {"q": "x", "a": "y", "t": tools, "编号": 7.0, "图": '["a.png"]'},
    )
    assert d["id"] == "7"
    assert d["tools"][0]["name"] == "f"
    assert d["media"] == [{"type": "image", "path": "a.png"}]


def test_messages_with_tags() -> None:
    spec = "对话=messages,角色=role_tag,内容=content_tag,问=user_tag,答=assistant_tag,背景=system"
    rec = {
        "对话": [{"角色": "问", "内容": "你好"}, {"角色": "答", "内容": "您好"}],
        "背景": "客服",
        "来源": "faq",
    }
    d = _read(spec, rec)
    assert _turns(d) == [("system", "客服"), ("user", "你好"), ("assistant", "您好")]
    assert d["meta"] == {"fields": {"来源": "faq"}}


def test_messages_as_json_text_in_a_csv_cell() -> None:
    cell = '[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]'
    assert _turns(_read("conv=messages", {"conv": cell})) == [("user", "hi"), ("assistant", "yo")]


def test_a_canonical_meta_object_is_merged() -> None:
    d = _read("q=prompt,a=response", {"q": "x", "a": "y", "meta": {"k": 1}, "other": 2})
    assert d["meta"] == {"k": 1, "fields": {"other": 2}}


@pytest.mark.parametrize(
    ("spec", "message", "hint"),
    [
        (
            "问题=prompt,答案=answr",
            "column mapping: unknown part 'answr' in '答案=answr'.",
            "use one of: prompt, query (input), response (output)",
        ),
        ("问题", "column mapping: '问题' is not SOURCE=PART.", "问题=prompt,答案=response"),
        ("a=prompt,b=prompt", "column mapping: both 'a' and 'b' map to prompt.", "map one"),
        ("a=response", "column mapping: names no prompt (or messages).", "问题=prompt"),
        (
            "c=messages,q=prompt",
            "column mapping: maps messages and prompt; a record is either a conversation or "
            "one exchange.",
            "not both",
        ),
        ("q=prompt,r=role_tag", "column mapping: tags (role_tag) only apply to messages.", None),
    ],
)
def test_bad_mappings_fail_with_one_line_and_the_fix(
    spec: str, message: str, hint: str | None
) -> None:
    with pytest.raises(FormatError) as info:
        ColumnMap.parse(spec)
    err = info.value
    assert err.message == message
    assert err.field == "columns"
    assert "\n" not in str(err)
    if hint is not None:
        assert hint in (err.hint or "")


def test_mapping_reports_a_field_missing_from_every_record() -> None:
    cmap = ColumnMap.parse("问题=prompt,答=response")
    with pytest.raises(FormatError) as info:
        cmap.check_fields([{"问题": "q", "答案": "a"}], "faq.csv")
    assert str(info.value) == (
        "faq.csv, field 'columns': column mapping: '答' (mapped to response) is not a field of "
        "the first 1 records; their fields are: 问题, 答案. Fix: map a field the file has "
        "(names are matched exactly)"
    )


def test_write_puts_parts_back_at_their_paths() -> None:
    fmt = ColumnMap.parse("data.q=prompt,data.a=response,类别=meta.category").format()
    rec = {"data": {"q": "Q", "a": "A"}, "类别": "c"}
    assert fmt.dump(fmt.parse(rec), LossLog()) == rec


# -- dataset_info.json builds the same mapping -------------------------------------------------


def test_dataset_info_entry_is_a_column_map() -> None:
    entry = {"columns": {"prompt": "q", "response": "a", "system": "s"}}
    fmt = format_from_entry("faq", entry)
    cmap = ColumnMap.from_dataset_info("alpaca", entry["columns"], {}, ranking=False)
    assert isinstance(fmt, AlpacaFormat)
    assert fmt.columns == cmap.format().columns  # type: ignore[attr-defined]
    assert fmt.columns["query"] == "input"  # LLaMA-Factory's default kept
    s = fmt.parse({"q": "x", "a": "y", "s": "sys"})
    assert [(m.role, m.content) for m in s.messages] == [
        ("system", "sys"),
        ("user", "x"),
        ("assistant", "y"),
    ]


def test_dataset_info_sharegpt_tags_and_text_and_null_columns() -> None:
    fmt = format_from_entry(
        "c",
        {
            "formatting": "sharegpt",
            "columns": {"messages": "turns"},
            "tags": {"role_tag": "r", "content_tag": "c", "user_tag": "u", "assistant_tag": "a"},
        },
    )
    assert isinstance(fmt, ShareGPTFormat)
    s = fmt.parse({"turns": [{"r": "u", "c": "hi"}, {"r": "a", "c": "yo"}]})
    assert s.messages == [Message("user", "hi"), Message("assistant", "yo")]
    assert isinstance(format_from_entry("w", {"columns": {"prompt": "text"}}), TextFormat)
    off = format_from_entry("n", {"columns": {"query": None}})
    assert isinstance(off, AlpacaFormat) and off.columns["query"] is None


def test_dataset_info_with_a_nested_column_reads_through_the_mapping() -> None:
    fmt = format_from_entry("n", {"columns": {"prompt": "d.q", "response": "d.a"}})
    assert isinstance(fmt, MappedFormat)
    s = fmt.parse({"d": {"q": "x", "a": "y"}})
    assert [m.content for m in s.messages] == ["x", "y"]


# -- proposals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keys", "spec"),
    [
        (["问题", "答案"], "问题=prompt,答案=response"),
        (["提问", "回答", "类别"], "提问=prompt,回答=response"),
        (["指令", "输入", "答复", "系统"], "指令=prompt,输入=query,答复=response,系统=system"),
        (["Question", "Answer"], "Question=prompt,Answer=response"),
        (
            ["instruction", "input", "output", "history"],
            "instruction=prompt,input=query,output=response,history=history",
        ),
        (["对话", "来源"], "对话=messages"),
        (["prompt"], "prompt=prompt"),
        (["标题", "正文"], None),
    ],
)
def test_proposal_from_chinese_and_english_headers(keys: list[str], spec: str | None) -> None:
    got = propose_columns([dict.fromkeys(keys, "x")])
    assert (got.spec() if got is not None else None) == spec
