"""Version columns built from buffers (``arrow_column``) and hashed from buffers
(``_column_streams``): the same arrays as ``pa.array`` and the same byte streams as Arrow's
own conversions, so a version's id does not change with the way its columns are built."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest

import sftforge.convert as convert_module
import sftforge.studio.imports as imports_module
import sftforge.studio.store as store_module
import sftforge.studio.versions as versions_module
from sftforge.sample import Message, Sample
from sftforge.studio.imports import import_file
from sftforge.studio.store import Store
from sftforge.studio.versions import (
    SCHEMA,
    _column_streams,
    arrow_column,
    derive_columns,
    row_from_sample,
    samples_batch,
)

CASES: list[tuple[pa.DataType, list[Any]]] = [
    (pa.string(), ["a", "中文", "", None, "é" * 300, b"bytes \xe4\xb8\xad"]),
    (pa.string(), [None, None]),
    (pa.string(), []),
    (pa.int32(), [1, -2, 0, 2**31 - 1]),
    (pa.int64(), [None, 5, 2**40, None]),
    (pa.float64(), [None, 0.5, 1, None]),
    (pa.float64(), [None, None, None]),
    (pa.bool_(), [True, False, True, True, False, False, True, False, True]),
    (pa.bool_(), [None, True, False]),
    (pa.list_(pa.string()), [[], ["x", "标签"], None, ["y"]]),
]


@pytest.mark.parametrize(("type_", "values"), CASES)
def test_arrow_column_is_what_pa_array_makes(type_: pa.DataType, values: list[Any]) -> None:
    got = arrow_column(tuple(values), type_)
    got.validate(full=True)
    assert got.equals(pa.array(values, type_))
    assert got.null_count == sum(v is None for v in values)


@pytest.mark.parametrize(
    ("type_", "values"),
    [
        (pa.int32(), [1, "2"]),  # pa.array's own error for a value of the wrong type
        (pa.string(), ["a", 3]),
        (pa.bool_(), [True, 1]),
        (pa.list_(pa.string()), [["a", 1]]),
    ],
)
def test_a_value_of_another_type_gets_arrows_own_error(
    type_: pa.DataType, values: list[Any]
) -> None:
    with pytest.raises((pa.ArrowInvalid, pa.ArrowTypeError, TypeError)):
        pa.array(values, type_)
    with pytest.raises((pa.ArrowInvalid, pa.ArrowTypeError, TypeError)):
        arrow_column(tuple(values), type_)


def test_an_int_too_large_for_the_column_gets_arrows_own_error() -> None:
    with pytest.raises(pa.ArrowInvalid, match="too large"):
        arrow_column((1, 2**40), pa.int32())


def _reference_streams(arr: pa.Array) -> list[bytes]:
    """The streams as the first version of ``_column_streams`` computed them, with Arrow's
    compute functions and ``to_numpy`` (the ids of versions already stored depend on them)."""

    def strings(a: pa.Array) -> list[bytes]:
        _, offs_buf, data = a.buffers()
        offs = np.frombuffer(offs_buf, dtype=np.int32, count=a.offset + len(a) + 1)[a.offset :]
        body = bytes(memoryview(data)[offs[0] : offs[-1]]) if data is not None else b""
        valid = np.asarray(a.is_valid().to_numpy(zero_copy_only=False), dtype=np.uint8)
        return [body, np.diff(offs).astype("<i8").tobytes(), valid.tobytes()]

    if pa.types.is_string(arr.type):
        return strings(arr)
    if pa.types.is_list(arr.type):
        lengths = pc.fill_null(pc.list_value_length(arr), -1).to_numpy(zero_copy_only=False)
        return [*strings(arr.flatten()), np.asarray(lengths).astype("<i8").tobytes()]
    valid = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=np.uint8)
    filled = pc.fill_null(arr, pa.scalar(False if pa.types.is_boolean(arr.type) else 0, arr.type))
    values = np.asarray(filled.to_numpy(zero_copy_only=False))
    return [values.astype(values.dtype.newbyteorder("<")).tobytes(), valid.tobytes()]


@pytest.mark.parametrize(("type_", "values"), [c for c in CASES if c[1]])
@pytest.mark.parametrize("window", [(0, None), (1, None), (1, 2), (3, 5)])
def test_hashed_streams_are_the_reference_ones(
    type_: pa.DataType, values: list[Any], window: tuple[int, int | None]
) -> None:
    start, length = window
    arr = pa.array(values, type_).slice(start, length)  # a slice: buffers with an offset
    got = [bytes(s) for s in _column_streams(arr)]
    assert got == _reference_streams(arr)


def test_the_schemas_types_are_all_built_from_buffers() -> None:
    """Every column type of a version has its builder (none falls back to ``pa.array``)."""
    for field in SCHEMA:
        values: tuple[Any, ...] = {
            pa.string(): ("a", None),
            pa.int32(): (1, None),
            pa.int64(): (1, None),
            pa.float64(): (0.5, None),
            pa.bool_(): (True, False),
            pa.list_(pa.string()): (["t"], []),
        }[field.type]
        assert arrow_column(values, field.type).equals(pa.array(values, field.type))


@pytest.mark.parametrize(
    ("name", "text"),
    [
        (
            "in.jsonl",
            '{"instruction": "你好", "output": "hi"}\n{"instruction": "x", "output": "y"}\n',
        ),
        (
            "in.json",
            '[{"instruction": "你好", "output": "hi"},\n{"instruction": "x", "output": "y"}]',
        ),
    ],
)
def test_an_import_does_not_import_pandas(tmp_path: Path, name: str, text: str) -> None:
    """``pa.array`` would import pandas (a sixth of a small import's CPU, ~50 MB)."""
    src = tmp_path / name
    src.write_text(text, encoding="utf-8")
    code = (
        "import sys\nfrom pathlib import Path\n"
        "from sftforge.studio.store import Store\n"
        "from sftforge.studio.imports import import_file\n"
        "home = Path(sys.argv[1]); store = Store(home)\n"
        "p = store.create_project('p', 'p'); d = store.create_dataset(p['id'], 'd')\n"
        "row = import_file(store, home / 'v', home / 'r', d['id'], sys.argv[2], user='u')\n"
        "assert row['status'] == 'done' and row['imported'] == 2, row\n"
        # a piece with no rows (a JSON array's rejected element read again alone) makes none
        "from sftforge.studio.versions import rows_batch\n"
        "assert rows_batch([]).num_rows == 0\n"
        "print('pandas' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "home"), str(src)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("question", "answer"),
    [("Hello World", "Fine"), ("你好，世界", "好的 OK"), ("", "A" * 450), ("Ünïcode İ", "")],
)
def test_a_plain_exchange_derives_what_the_general_path_derives(question: str, answer: str) -> None:
    """One question and one answer take a short path; the same turns with a system turn in
    front take the general one, and every column but the turn count and the system flag agrees."""
    plain = Sample(messages=[Message("user", question), Message("assistant", answer)])
    fast = derive_columns(plain)
    general = derive_columns(
        Sample(messages=[Message("system", ""), *plain.messages])
    )  # the empty system turn adds one empty part, i.e. one separator
    assert fast["first_user"] == question[:200] and fast["first_assistant"] == answer[:200]
    assert (fast["n_turns"], fast["n_user"], fast["n_assistant"], fast["n_tool"]) == (2, 1, 1, 0)
    assert fast["has_system"] is False and general["has_system"] is True
    assert fast["chars"] == general["chars"] == len(question) + len(answer)
    assert fast["search"] == f"{question}\n{answer}".lower() == general["search"].removeprefix("\n")
    text = f"{question}\n{answer}"  # a CJK character ~ a token, other text ~ 4 characters
    wide = (len(text.encode("utf-8")) - len(text)) // 2  # extra UTF-8 bytes / 2
    assert fast["tokens_est"] == wide + (len(text) - wide) // 4


@pytest.mark.parametrize(
    ("type_", "values"),
    [
        (pa.string(), ["ascii only", "more"]),  # joined in one call
        (pa.string(), [b"bytes", b"\xe4\xb8\xad"]),  # bytes only
        (pa.string(), ["中", b"x", None, "y"]),  # a mix, one value at a time
        (pa.string(), [None] * 9),
        (pa.float64(), [1, 2]),  # integers in a float column, as pa.array takes them
        (pa.int64(), [None] * 3),
        (pa.bool_(), [None] * 10),
    ],
)
def test_each_fast_path_is_what_pa_array_makes(type_: pa.DataType, values: list[Any]) -> None:
    got = arrow_column(tuple(values), type_)
    got.validate(full=True)
    assert got.equals(pa.array(values, type_))


@pytest.mark.parametrize(
    ("type_", "values"),
    [(pa.int64(), [[1], [2]]), (pa.int64(), [2**70]), (pa.float64(), ["x"]), (pa.int32(), [])],
)
def test_values_the_fast_paths_do_not_take_go_to_pa_array(
    type_: pa.DataType, values: list[Any]
) -> None:
    try:
        expected = pa.array(values, type_)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError) as exc:
        with pytest.raises(type(exc)):
            arrow_column(tuple(values), type_)
    else:
        assert arrow_column(tuple(values), type_).equals(expected)


# -- a version's content does not change with how it is built -----------------------------------


def _rich_records(n: int) -> list[str]:
    """JSONL lines: system turns, tool calls, reasoning, repeated ids, Chinese, and meta with
    tags, scores, human_verified and an LLM's model and prompt (every column's shapes)."""
    lines = []
    for i in range(n):
        msgs: list[dict[str, Any]] = []
        if i % 3 == 0:
            msgs.append({"role": "system", "content": "你是助手" if i % 2 else "You are helpful"})
        msgs.append({"role": "user", "content": f"问题 {i} " + "Xy" * (i % 40)})
        if i % 5 == 0:
            call = {"name": "search", "arguments": {"q": f"天气{i}"}}
            msgs.append({"role": "assistant", "content": "", "tool_calls": [call]})
            msgs.append({"role": "tool", "content": "晴"})
        answer: dict[str, Any] = {"role": "assistant", "content": "答" * (i % 50 + 1)}
        if i % 7 == 0:
            answer["reasoning"] = "想一想"
        msgs.append(answer)
        rec: dict[str, Any] = {"messages": msgs}
        if i % 4 == 0:
            rec["id"] = f"id{i % 30}"
        meta: dict[str, Any] = {}
        if i % 6 == 0:
            meta["tags"] = ["a", "标签"][: (i // 6) % 3]  # none, one or two tags
        if i % 8 == 0:
            meta["score"] = (i % 10) / 10 if i % 16 else 3
        if i % 9 == 0:
            meta["human_verified"] = True
        if i % 11 == 0:
            meta["llm"] = {"model": "m1", "prompt": {"t": "p"} if i % 2 else "p"}
        if meta:
            rec["meta"] = meta
        lines.append(json.dumps(rec, ensure_ascii=False))
    lines.append("{broken")
    return lines


def _spy_content_ids(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ``content_id`` (the rows' hash without the parent) of every version finished from now
    on: the value a first version's id had before the dataset's id went into it."""
    seen: list[str] = []
    finish = versions_module.VersionWriter.finish

    def spy(self: Any) -> tuple[str, Path, int]:
        out = finish(self)
        seen.append(self.content_id)
        return out

    monkeypatch.setattr(versions_module.VersionWriter, "finish", spy)
    return seen


@pytest.mark.parametrize("workers", [None, 3])
def test_an_imports_version_is_the_one_the_first_studio_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int | None
) -> None:
    """Pinned: the version id and the browse file's rows of a fixed input, as the studio made
    them before its columns were built from buffers (commit 24138db), and before the import
    went through convert's worker processes (``workers=3``: two helpers, with tasks cut small
    so the rows come back in many batches). A change to how rows are built or hashed must not
    move a given input to another version. The input is read as sftforge's own format, so its
    ``meta`` (tags, scores, ``human_verified``, an LLM's lineage) reaches the review columns;
    the pins were made by the code at 24138db on this input."""
    monkeypatch.setattr(convert_module, "_TASK_BYTES", 2048)
    src = tmp_path / "rich.jsonl"
    src.write_text("\n".join(_rich_records(300)) + "\n", encoding="utf-8")
    store = Store(tmp_path / "home")
    project = store.create_project("p", "p")
    monkeypatch.setattr(store_module, "new_id", lambda prefix: f"{prefix}_pinned")
    dataset = store.create_dataset(project["id"], "d")
    content_ids = _spy_content_ids(monkeypatch)
    row = import_file(
        store,
        tmp_path / "home" / "v",
        tmp_path / "home" / "r",
        dataset["id"],
        src,
        user="u",
        workers=workers,
        format="sftforge",
    )
    assert (row["read"], row["imported"], row["rejected"]) == (301, 300, 1)
    assert content_ids == ["60a08e721b1f1081"]  # the rows hash as they always did
    # the version id also hashes the dataset (a first version has no parent): pinned for this id
    assert dataset["id"] == "d_pinned"
    assert row["version_id"] == "c5cadd3232d91590"
    (browse,) = (tmp_path / "home" / "v").glob("*.browse.arrow")
    table = ipc.open_file(pa.memory_map(str(browse))).read_all()
    digest = hashlib.sha256(orjson.dumps(table.to_pylist())).hexdigest()[:16]
    assert digest == "688bc386e4427739"
    # the input's meta reached the review and lineage columns (the pins cover every shape)
    cols = table.select(["tags", "score", "human_verified", "model", "n_tool"]).to_pydict()
    assert sum(1 for t in cols["tags"] if t == ["a", "标签"]) > 0
    assert sum(1 for t in cols["tags"] if t == ["a"]) > 0
    assert {3.0, 0.8} <= set(cols["score"])
    assert sum(cols["human_verified"]) == 34  # i % 9 == 0 for i in range(300)
    assert cols["model"].count("m1") == 28  # i % 11 == 0
    assert sum(1 for n in cols["n_tool"] if n) == 60  # i % 5 == 0


def _import_files(home: Path, inputs: list[Path], workers: int) -> list[dict[str, Any]]:
    """Import ``inputs`` one after another into one dataset (each appended to the head) and
    return, per import, its counts and the bytes of its version's files and rejects."""
    store = Store(home)
    dataset = store.create_dataset(store.create_project("p", "p")["id"], "d")
    out = []
    for src in inputs:
        row = import_file(
            store, home / "v", home / "r", dataset["id"], src, user="u", workers=workers
        )
        assert row["status"] == "done", row["error"]
        vid = row["version_id"]
        out.append(
            {
                "counts": (row["version_id"], row["read"], row["imported"], row["rejected"]),
                "parquet": (home / "v" / f"{vid}.parquet").read_bytes(),
                "browse": (home / "v" / f"{vid}.browse.arrow").read_bytes(),
                "rejects": (home / row["rejects_path"]).read_bytes()
                if row["rejects_path"]
                else None,
            }
        )
    return out


def test_worker_processes_make_the_same_files_as_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An import through convert's helpers (small tasks, small row groups: many batches cut
    across row groups) writes byte for byte the Parquet file, browse file and rejects that one
    process writes: JSONL with repeated ids and broken lines, a JSON array on one line (all its
    records on line 1: ids ``#1.2``, ...), an indented JSON array, each appended to the head."""
    monkeypatch.setattr(convert_module, "_TASK_BYTES", 4096)
    monkeypatch.setattr(versions_module, "ROW_GROUP", 64)
    rich = tmp_path / "rich.jsonl"
    rich.write_text("\n".join(_rich_records(400)) + "\n", encoding="utf-8")
    pairs = [{"instruction": f"问 {i % 150}", "output": f"答 {i}"} for i in range(300)]
    pairs[17] = {"instruction": "", "output": "no question"}
    one_line = tmp_path / "one_line.json"
    one_line.write_text(json.dumps(pairs, ensure_ascii=False), encoding="utf-8")
    indented = tmp_path / "indented.json"
    indented.write_text(json.dumps(pairs[:200], ensure_ascii=False, indent=2), encoding="utf-8")
    inputs = [rich, one_line, indented, rich]
    # the two homes' datasets share one id: a first version's id hashes its dataset's
    monkeypatch.setattr(store_module, "new_id", lambda prefix: f"{prefix}_same")
    one = _import_files(tmp_path / "one", inputs, workers=1)
    pool = _import_files(tmp_path / "pool", inputs, workers=3)
    assert [x["counts"] for x in pool] == [x["counts"] for x in one]
    assert [x["counts"][1:] for x in one] == [(401, 320, 81), (300, 299, 1), (200, 199, 1),
                                              (401, 320, 81)]  # fmt: skip
    for got, want in zip(pool, one, strict=True):
        assert got == want
    # the first version's row groups are ROW_GROUP rows (the last one shorter)
    first = tmp_path / "pool" / "v" / f"{pool[0]['counts'][0]}.parquet"
    meta = pq.ParquetFile(str(first)).metadata
    sizes = [meta.row_group(g).num_rows for g in range(meta.num_row_groups)]
    assert set(sizes[:-1]) == {64} and 0 < sizes[-1] <= 64


def test_a_pieces_batch_holds_the_rows_row_from_sample_makes() -> None:
    """``samples_batch`` (an import's piece, column by column) and ``row_from_sample`` (one
    row) agree on every column, for every shape of sample and meta."""
    samples = [Sample.from_dict(orjson.loads(line)) for line in _rich_records(120)[:-1]]
    samples[5].meta["tags"] = ["好", 3]
    ids = [f"r{i}" for i in range(len(samples))]
    lines = list(range(1, len(samples) + 1))
    batch = samples_batch(samples, ids, lines, src="in.jsonl", made_by="import")
    batch.validate(full=True)
    assert batch.schema == SCHEMA
    want = [
        row_from_sample(s, i, src="in.jsonl", src_line=n, made_by="import")
        for s, i, n in zip(samples, ids, lines, strict=True)
    ]
    assert batch.to_pylist() == want
    assert want[5]["tags"] == ["好", "3"]
    assert any(r["model"] for r in want) and any(r["score"] is not None for r in want)
    assert any(r["human_verified"] for r in want) and any(r["has_system"] for r in want)
    assert samples_batch([], [], [], src="x", made_by="import").num_rows == 0


def test_ids_sharing_a_hash_are_told_apart_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``SeenIds`` keeps 8-byte hashes of the ids; two ids with one hash are not a repeat: the
    check then goes to the exact strings, and the version is the one made without collisions."""
    seen = imports_module.SeenIds()
    monkeypatch.setattr(imports_module, "hash", lambda value: 7, raising=False)
    first = pa.array(["a"], pa.string())
    assert seen.add_new(first, ["a"])
    assert not seen.add_new(pa.array(["b"], pa.string()), ["b"])  # the same hash: not added
    assert seen.exact() == {"a"}
    assert seen.add_new(pa.array(["b", "c"], pa.string()), ["b", "c"])
    assert not seen.add_new(pa.array(["c"], pa.string()), ["c"]) and seen.exact() == {"a", "b", "c"}
    src = tmp_path / "rich.jsonl"
    src.write_text("\n".join(_rich_records(300)) + "\n", encoding="utf-8")
    store = Store(tmp_path / "home")
    dataset = store.create_dataset(store.create_project("p", "p")["id"], "d")
    content_ids = _spy_content_ids(monkeypatch)
    import_file(
        store,
        tmp_path / "home" / "v",
        tmp_path / "home" / "r",
        dataset["id"],
        src,
        user="u",
        format="sftforge",
    )
    assert content_ids == ["60a08e721b1f1081"]  # as pinned above
