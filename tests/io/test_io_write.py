"""Writers: every container x compression round-trips; writes are atomic; lossy writes refuse or count."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from io_support import qa_samples, records

from sftforge import read, write
from sftforge.errors import ConversionError
from sftforge.sample import Message, Sample, ToolCall

NAMES = [
    f"out.{ext}{comp}"
    for ext in ("jsonl", "json", "csv", "tsv", "parquet")
    for comp in ("", ".gz", ".bz2", ".xz", ".zst")
    if not (ext == "parquet" and comp)
]


@pytest.mark.parametrize("name", NAMES)
def test_every_container_and_compression_round_trips(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    result = write(qa_samples(), path, "qa")
    assert (result.count, result.losses) == (3, {})
    with read(path) as reader:
        assert list(reader) == qa_samples()
    assert reader.format.name == "qa"


RICH = [
    Sample(
        [
            Message("system", "你是助手"),
            Message("user", "天气？"),
            Message(
                "assistant",
                "",
                reasoning="查一下",
                tool_calls=[ToolCall("weather", {"city": "北京"}, "c1")],
            ),
            Message("tool", '{"t": 3}', tool_call_id="c1"),
            Message("assistant", "3 度", train=True),
        ],
        tools=[{"name": "weather", "parameters": {"type": "object"}}],
        meta={"source": "x"},
    ),
    Sample(
        [Message("user", "pick"), Message("assistant", "a")],
        rejected=Message("assistant", "b"),
        label=True,
    ),
]


@pytest.mark.parametrize("name", ["n.jsonl", "n.json.gz", "n.parquet", "n.jsonl.zst"])
def test_native_format_is_lossless(tmp_path: Path, name: str) -> None:
    write(RICH, tmp_path / name, "sftforge")
    with read(tmp_path / name) as reader:
        assert list(reader) == RICH
    assert reader.format.name == "sftforge"


def test_text_container_writes_one_text_per_line(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    with path.open("w") as fh:
        fh.write("a\nb\n")
    got = [r.value for r in records(str(path))]
    assert got == [{"text": "a"}, {"text": "b"}]


def test_lossy_write_is_refused_and_leaves_no_file(tmp_path: Path) -> None:
    multi = Sample(
        [
            Message("user", "1"),
            Message("assistant", "2"),
            Message("user", "3"),
            Message("assistant", "4"),
        ]
    )
    path = tmp_path / "out.jsonl"
    with pytest.raises(ConversionError) as info:
        write([*qa_samples(), multi], path, "qa")
    assert "format 'qa' cannot carry multi_turn" in str(info.value)
    assert os.listdir(tmp_path) == []  # the temporary file was removed, nothing half-written


def test_lossy_write_is_counted_when_allowed(tmp_path: Path) -> None:
    multi = Sample(
        [
            Message("user", "1"),
            Message("assistant", "2"),
            Message("user", "3"),
            Message("assistant", "4"),
        ]
    )
    result = write([multi, multi], tmp_path / "out.jsonl", "qa", allow_lossy=True)
    assert (result.count, result.losses) == (2, {"multi_turn": 2})


def test_failed_write_keeps_the_previous_file(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    write(qa_samples(), path, "qa")
    before = path.read_bytes()

    def broken():  # type: ignore[no-untyped-def]
        yield qa_samples()[0]
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        write(broken(), path, "qa")
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["out.jsonl"]


def test_written_json_array_is_one_element_per_line(tmp_path: Path) -> None:
    write(qa_samples()[:2], tmp_path / "o.json", "qa")
    assert (tmp_path / "o.json").read_text(encoding="utf-8") == (
        '[\n{"q":"你好，世界","a":"Hello, world"},\n{"q":"What is 2+2?","a":"4"}\n]\n'
    )


def test_empty_write_gives_valid_empty_containers(tmp_path: Path) -> None:
    for name, content in [("e.json", b"[]\n"), ("e.jsonl", b""), ("e.csv", b"")]:
        assert write([], tmp_path / name, "qa").count == 0
        assert (tmp_path / name).read_bytes() == content


def test_output_folder_is_created(tmp_path: Path) -> None:
    write(qa_samples(), tmp_path / "a" / "b" / "o.jsonl", "qa")
    assert (tmp_path / "a" / "b" / "o.jsonl").exists()


def test_dataset_info_entry_is_written_and_reads_back(tmp_path: Path) -> None:
    info = tmp_path / "dataset_info.json"
    info.write_text('{"other": {"file_name": "x.json"}}', encoding="utf-8")
    write(qa_samples(), tmp_path / "data" / "qa_set.json", "alpaca", dataset_info=info)
    import orjson

    entries = orjson.loads(info.read_bytes())
    assert entries == {
        "other": {"file_name": "x.json"},
        "qa_set": {
            "file_name": "data/qa_set.json",
            "columns": {
                "prompt": "instruction",
                "query": "input",
                "response": "output",
                "system": "system",
            },
        },
    }
    with read(f"{info}#qa_set") as reader:
        assert list(reader) == qa_samples()


def test_dataset_info_output_must_be_beside_it(tmp_path: Path) -> None:
    from sftforge.errors import InputError

    with pytest.raises(InputError) as info:
        write(qa_samples(), tmp_path / "o.json", "alpaca", dataset_info=tmp_path / "sub" / "d.json")
    assert str(info.value) == (
        f"the output {tmp_path / 'o.json'} is not inside the folder of {tmp_path / 'sub' / 'd.json'}; "
        "LLaMA-Factory only reads files next to dataset_info.json. "
        "Fix: write the output into that folder (or a folder below it)"
    )


@pytest.mark.parametrize(("executable", "mode"), [(False, 0o640), (True, 0o750)])
def test_atomic_writes_get_the_mode_open_gives_and_leave_no_temp_file(
    tmp_path: Path, executable: bool, mode: int
) -> None:
    import stat

    from sftforge.io.atomic import write_atomic

    old = os.umask(0o027)
    try:
        write_atomic(tmp_path / "数据.jsonl", "你好\n".encode(), executable=executable)
        write_atomic(tmp_path / "数据.jsonl", b"again\n", executable=executable)  # over the first
    finally:
        os.umask(old)
    out = tmp_path / "数据.jsonl"
    assert stat.S_IMODE(out.stat().st_mode) == mode
    assert out.read_bytes() == b"again\n"
    assert [p.name for p in tmp_path.iterdir()] == ["数据.jsonl"]
