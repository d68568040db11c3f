"""``Sample.to_json`` of a plain sample, put together from each text serialised once
(``_plain_json``): byte for byte ``orjson.dumps(to_dict())`` (content id included), and the
version a studio import makes with it is the one the ``to_dict`` path makes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq
import pytest

import sftforge.sample as sample_module
import sftforge.studio.store as store_module
from sftforge.sample import Media, Message, Sample, ToolCall, deferred_ids
from sftforge.studio.imports import import_file
from sftforge.studio.store import Store

TEXTS = ["Hi", "", "中文问题，请回答。", 'quote " and \\ back\nslash\t\x01', "emoji 😀 \u2028 é"]


def _qa(q: str, a: str, **kw: Any) -> dict[str, Any]:
    return {"messages": [Message("user", q), Message("assistant", a)], **kw}


SHAPES: list[dict[str, Any]] = [
    *(_qa(q, a) for q in TEXTS for a in TEXTS),
    _qa("q", "a", id="given-id"),
    _qa("q", "a", id="编号 7"),
    _qa("q", "a", meta={"fields": {"source": "维基", "n": 3, "x": [1, None, {"k": 1.5}]}}),
    _qa("q", "a", meta={"prompt_input": True}),
    {
        "messages": [
            Message("system", "你是助手"),
            Message("user", "u"),
            Message("assistant", "a"),
            Message("user", "u2"),
            Message("assistant", "a2"),
        ]
    },
    {"messages": [Message("assistant", "a"), Message("user", "q")]},  # two turns, other roles
    {"messages": [Message("user", "q")]},
    {"messages": []},
    {"messages": [Message("user", "q"), Message("assistant", "a", reasoning="想")]},
    {
        "messages": [
            Message("user", "q"),
            Message("assistant", "", tool_calls=[ToolCall("f", {"a": 1})]),
            Message("tool", "ok", tool_call_id="c1"),
            Message("assistant", "done"),
        ]
    },
    {"messages": [Message("user", "q", name="bob"), Message("assistant", "a")]},
    {"messages": [Message("user", "q"), Message("assistant", "a", train=False)]},
    {"messages": [Message("user", "q", extra={"weight": 0}), Message("assistant", "a")]},
    {
        "messages": [
            Message("user", "q"),
            Message("assistant", "a"),
            Message("user", "q2", extra={"t": 1}),
        ]
    },
    {"messages": [Message("observation", "q"), Message("assistant", "a")]},  # type: ignore[arg-type]
    {"messages": [Message("user", ["a", "list"]), Message("assistant", "a")]},  # type: ignore[arg-type]
    _qa("q", "a", tools=[{"type": "function", "function": {"name": "f"}}]),
    _qa("q", "a", tools=[]),
    _qa("q", "a", rejected=Message("assistant", "worse")),
    _qa("q", "a", label=False),
    _qa("q", "a", media=[Media("image", "a.png")]),
    _qa("q", "a", media=[]),
]


def _make(shape: dict[str, Any]) -> Sample:
    msgs = [Message(**{k: getattr(m, k) for k in m.__slots__}) for m in shape["messages"]]
    return Sample(msgs, **{k: v for k, v in shape.items() if k != "messages"})


@pytest.mark.parametrize("deferred", [True, False])
def test_to_json_of_plain_samples_is_the_to_dict_bytes(deferred: bool) -> None:
    """Every shape, with the content id deferred (as an import makes samples) or computed."""
    if deferred:
        with deferred_ids():
            fast, slow = [_make(s) for s in SHAPES], [_make(s) for s in SHAPES]
    else:
        fast, slow = [_make(s) for s in SHAPES], [_make(s) for s in SHAPES]
    # the fast path is taken for the plain shapes (the Q&A pairs and the five-turn chat) at least
    assert sum(sample_module._plain_json(s) is not None for s in fast) >= len(TEXTS) ** 2 + 1
    got = [s.to_json() for s in fast]
    want = [orjson.dumps(s.to_dict()) for s in slow]
    for g, w in zip(got, want, strict=True):
        assert g == w
    assert [orjson.loads(g)["id"] for g in got] == [s.id for s in slow]


def test_a_value_orjson_refuses_gets_its_own_error() -> None:
    bad = "lone \ud800 surrogate"
    with deferred_ids():
        fast, slow = _make(_qa("q", bad)), _make(_qa("q", bad))
    with pytest.raises(orjson.JSONEncodeError) as want:
        orjson.dumps(slow.to_dict())
    with pytest.raises(orjson.JSONEncodeError) as got:
        fast.to_json()
    assert str(got.value) == str(want.value)


def _records() -> list[str]:
    """Alpaca records in Chinese and English, one with a field Alpaca does not know (kept in
    meta), an input column, and two bad records (rejects)."""
    lines = []
    for i in range(200):
        rec: dict[str, Any] = {
            "instruction": f"问题 {i}：解释一下",
            "input": "",
            "output": f"回答 {i} ok",
        }
        if i % 3 == 0:
            rec["input"] = f"上下文 {i}"
        if i % 7 == 0:
            rec["来源"] = {"site": "知乎", "rank": i}  # an unknown field
        if i % 5 == 0:
            rec["output"] = 'English answer with "quotes" and\nlines'
        lines.append(json.dumps(rec, ensure_ascii=False))
    lines[50] = json.dumps(
        {"instruction": "没有回答", "input": "", "output": ""}, ensure_ascii=False
    )
    lines[120] = "{not json"
    return lines


def _version_files(home: Path, src: Path) -> dict[str, Any]:
    store = Store(home)
    dataset = store.create_dataset(store.create_project("p", "p")["id"], "d")
    row = import_file(store, home / "v", home / "r", dataset["id"], src, user="u")
    assert row["status"] == "done", row["error"]
    vid = row["version_id"]
    return {
        "counts": (vid, row["read"], row["imported"], row["rejected"]),
        "parquet": (home / "v" / f"{vid}.parquet").read_bytes(),
        "browse": (home / "v" / f"{vid}.browse.arrow").read_bytes(),
        "rejects": (home / row["rejects_path"]).read_bytes(),
    }


def test_an_import_with_the_fast_json_is_the_one_to_json_makes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The version's files and rejects, byte for byte, with the plain samples' fast JSON and
    with the ``to_dict`` path for every sample (Chinese text, an unknown field, rejects)."""
    src = tmp_path / "zh.jsonl"
    src.write_text("\n".join(_records()) + "\n", encoding="utf-8")
    monkeypatch.setattr(store_module, "new_id", lambda prefix: f"{prefix}_same")
    fast = _version_files(tmp_path / "fast", src)
    monkeypatch.setattr(sample_module, "_plain_json", lambda sample: None)
    slow = _version_files(tmp_path / "slow", src)
    assert fast["counts"][1:] == (200, 198, 2)
    assert fast == slow
    stored = pq.read_table(tmp_path / "fast" / "v" / f"{fast['counts'][0]}.parquet")
    samples = [orjson.loads(x) for x in stored.column("sample").to_pylist()]
    assert samples[0]["meta"]["fields"]["来源"] == {"site": "知乎", "rank": 0}
