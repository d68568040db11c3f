"""``sftforge.convert``: the worker-pool path gives exactly the serial path's output and rejects."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from io_support import QAFormat, fixture

from sftforge import convert as convert_mod
from sftforge.api import read, write
from sftforge.convert import convert
from sftforge.errors import ConversionError, SftforgeError
from sftforge.io import jsonarray, jsonl
from sftforge.sample import Sample


def _many(tmp_path: Path, bad_every: int = 0) -> Path:
    lines = []
    for i in range(5000):
        if bad_every and i % bad_every == 7:
            lines.append('{"q": "broken' if (i // bad_every) % 2 else f'{{"q": "q{i}", "a": ""}}')
        else:
            lines.append(f'{{"q": "问题 {i}", "a": "answer {i}"}}')
    path = tmp_path / "many.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("out_name", ["o.jsonl", "o.json.gz"])
def test_parallel_equals_serial(tmp_path: Path, out_name: str) -> None:
    src = _many(tmp_path, bad_every=500)
    results = {}
    for workers in (1, 2):
        out = tmp_path / f"w{workers}" / out_name
        rej = tmp_path / f"w{workers}" / "rejects.jsonl"
        res = convert(src, out, "sftforge", on_error="skip", rejects=rej, workers=workers)
        assert res.workers == workers
        results[workers] = (res.read, res.written, res.rejected, res.by_reason)
        results[f"{workers}-bytes"] = (out.read_bytes(), rej.read_bytes())
    assert results[1] == results[2] == (5000, 4990, 10, {"truncated": 5, "schema": 5})
    assert results["1-bytes"] == results["2-bytes"]


def test_parallel_raises_the_first_error_in_file_order(tmp_path: Path) -> None:
    src = _many(tmp_path, bad_every=2400)
    for workers in (1, 2):
        with pytest.raises(SftforgeError) as info:
            convert(src, tmp_path / "o.jsonl", "sftforge", workers=workers)
        assert str(info.value).startswith(f"{src}:8, sample ")
        assert not (tmp_path / "o.jsonl").exists()


def test_parallel_lossy_write_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "multi.jsonl"
    multi = '{"id": "m", "messages": [{"role": "user", "content": "1"}, {"role": "assistant", "content": "2"}, {"role": "user", "content": "3"}, {"role": "assistant", "content": "4"}]}\n'
    src.write_text(multi * 3000, encoding="utf-8")
    with pytest.raises(ConversionError):
        convert(src, tmp_path / "o.jsonl", "qa", workers=2)
    assert not (tmp_path / "o.jsonl").exists()
    res = convert(src, tmp_path / "o.jsonl", "qa", workers=2, allow_lossy=True)
    assert (res.written, res.losses) == (3000, {"multi_turn": 3000})


def test_small_inputs_stay_serial(tmp_path: Path) -> None:
    res = convert(fixture("good.jsonl"), tmp_path / "o.jsonl", "qa")
    assert (res.workers, res.read, res.written) == (1, 3, 3)


@pytest.mark.parametrize(
    ("load", "cpus", "want"), [(0.3, 2, 2), (1.2, 2, 1), (9.0, 2, 1), (2.5, 8, 6)]
)
def test_the_default_forks_helpers_only_for_idle_cpus(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, load: float, cpus: int, want: int
) -> None:
    """By default a large input gets one process per CPU the load average leaves idle: on a busy
    machine a helper only takes turns with the work already there. ``workers=`` still forces."""
    monkeypatch.setattr(convert_mod, "PARALLEL_MIN_BYTES", 0)  # every input counts as large
    monkeypatch.setattr(convert_mod.os, "getloadavg", lambda: (load, load, load))
    monkeypatch.setattr(convert_mod.os, "sched_getaffinity", lambda pid: set(range(cpus)))
    src = _many(tmp_path)
    res = convert(src, tmp_path / "o.jsonl", "sharegpt", from_="qa")
    assert res.workers == want and res.written == 5000
    forced = convert(src, tmp_path / "f.jsonl", "sharegpt", from_="qa", workers=2)
    assert forced.workers == 2
    assert (tmp_path / "o.jsonl").read_bytes() == (tmp_path / "f.jsonl").read_bytes()


# -- the pieces path: byte for byte the serial reader, with bad records anywhere ----------------
def _elements(n: int) -> list[str]:
    """Record texts, one every few of them bad in some way (JSON, text, format, schema, size)."""
    bad = {
        3: '{"q": "broken',
        7: '{"q": "  ", "a": "empty question"}',
        11: '{"q": 5, "a": "x"}',
        13: '{"q": "Ã©tÃ© mojibake", "a": "x"}',
        17: '{"q": "control \\u0001", "a": "x"}',
        19: '{"q": "' + "长" * 400 + '", "a": "too large"}',
        23: '{"q": "q", "a": "a"} {"q": "two on one line"}',
        29: '["not", "an", "object"]',
    }
    return [
        bad.get(
            i % 31,
            f'{{"q": "问题 {i} }},\\n  {{", "a": "answer {i}", "x": [{{"k": {i}}}, {{"k": "}}"}}]}}',
        )
        for i in range(n)
    ]


def _write_input(tmp_path: Path, kind: str, n: int = 700) -> Path:
    items = _elements(n)
    if kind == "jsonl":
        text = "\n".join(e if i % 37 else "" for i, e in enumerate(items)) + "\n"
    elif kind == "json":  # pretty-printed: one element per line, indented
        text = "[\n  " + ",\n  ".join(items) + "\n]\n"
    else:  # compact: the separator "}, {" also occurs inside the values
        text = "[" + ", ".join(items) + "]"
    path = tmp_path / f"in.{kind if kind != 'compact' else 'json'}"
    path.write_text(text, encoding="utf-8")
    return path


def _reference(src: Path, out: Path, rej: Path, **kw: Any) -> tuple[Any, ...]:
    """What ``read`` + ``write`` give (the serial path): counts, output and rejects bytes."""
    with read(src, kw.pop("from_", None), on_error="skip", rejects=rej, **kw) as reader:
        res = write(reader, out, "sharegpt")
    s = reader.stats
    rejects = rej.read_bytes() if rej.exists() else b""
    return (s.read, res.count, s.rejected, dict(s.by_reason)), out.read_bytes(), rejects


@pytest.fixture
def small_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    """Many pieces and tasks from a small file (the helpers are forked after this)."""
    monkeypatch.setattr(jsonl, "_CHUNK", 700)
    monkeypatch.setattr(jsonarray, "_BATCH_BYTES", 3000)
    monkeypatch.setattr(convert_mod, "_TASK_BYTES", 4000)


@pytest.mark.usefixtures("small_pieces")
@pytest.mark.parametrize("kind", ["jsonl", "json", "compact"])
@pytest.mark.parametrize("from_", ["qa", None])
def test_pieces_path_equals_read_write(tmp_path: Path, kind: str, from_: str | None) -> None:
    src = _write_input(tmp_path, kind)
    opts = {"from_": from_, "max_record_bytes": 1000}
    want = _reference(src, tmp_path / "ref.jsonl", tmp_path / "ref.rej.jsonl", **opts)
    assert want[0][2] > 100  # many rejects, of many kinds
    for workers in (1, 2, 3):
        out, rej = tmp_path / f"w{workers}.jsonl", tmp_path / f"w{workers}.rej.jsonl"
        res = convert(src, out, "sharegpt", on_error="skip", rejects=rej, workers=workers, **opts)
        got = (
            (res.read, res.written, res.rejected, res.by_reason),
            out.read_bytes(),
            rej.read_bytes(),
        )
        assert res.workers == workers
        assert got == want, f"workers={workers}"


@pytest.mark.usefixtures("small_pieces")
@pytest.mark.parametrize("kind", ["jsonl", "json", "compact"])
def test_pieces_path_raises_the_serial_error(tmp_path: Path, kind: str) -> None:
    src = _write_input(tmp_path, kind)
    with pytest.raises(SftforgeError) as ref, read(src, "qa") as reader:
        write(reader, tmp_path / "ref.jsonl", "sharegpt")
    for workers in (1, 2):
        with pytest.raises(SftforgeError) as info:
            convert(src, tmp_path / "o.jsonl", "sharegpt", from_="qa", workers=workers)
        assert str(info.value) == str(ref.value)
        assert not (tmp_path / "o.jsonl").exists()


@pytest.mark.usefixtures("small_pieces")
@pytest.mark.parametrize("out_name", ["o.json", "o.jsonl.gz"])
def test_pieces_path_json_and_compressed_outputs(tmp_path: Path, out_name: str) -> None:
    src = _write_input(tmp_path, "json")
    outs = []
    for workers in (1, 2):
        out = tmp_path / f"w{workers}" / out_name
        res = convert(src, out, "sharegpt", from_="qa", on_error="skip", workers=workers)
        outs.append((res.written, out.read_bytes()))
    assert outs[0] == outs[1]
    if out_name == "o.json":
        assert len(json.loads(outs[0][1])) == outs[0][0]


class _Explodes(QAFormat):
    name = "explodes"

    def parse(self, value: Any) -> Sample:
        if value.get("a") == "answer 500":
            raise RuntimeError("a bug in a format")
        return super().parse(value)


@pytest.mark.usefixtures("small_pieces")
def test_a_crash_in_a_helper_is_raised_not_hung(tmp_path: Path) -> None:
    src = _write_input(tmp_path, "jsonl")
    for workers in (1, 2):
        with pytest.raises(RuntimeError, match="a bug in a format"):
            convert(src, tmp_path / "o.jsonl", "sharegpt", from_=_Explodes(), on_error="skip",
                    workers=workers, max_record_bytes=1000)  # fmt: skip
        assert not (tmp_path / "o.jsonl").exists()


@pytest.mark.usefixtures("small_pieces")
@pytest.mark.parametrize("workers", [1, 2])
def test_progress_counts_every_record_once_per_piece(tmp_path: Path, workers: int) -> None:
    """The piece loop steps the hook once per piece, each step weighing the records it held:
    the weights add up to every record read (rejects included), in fewer steps."""
    src = _write_input(tmp_path, "json")
    counted: list[tuple[int, int]] = []

    def progress(items: Any, reader: Any, weight: Any = None) -> Any:
        assert weight is not None
        steps = records = 0
        try:
            for item in items:
                steps += 1
                records += weight(item)
                yield item
        finally:
            counted.append((steps, records))

    res = convert(src, tmp_path / "o.jsonl", "sharegpt", from_="qa", on_error="skip",
                  progress=progress, workers=workers, max_record_bytes=1000)  # fmt: skip
    assert res.read > 600
    [(steps, records)] = counted
    assert records == res.read and 1 <= steps < records


def test_progress_of_other_outputs_steps_once_per_record(tmp_path: Path) -> None:
    """Outputs that go through ``write`` (CSV here) hand the records themselves to the hook."""
    src = _write_input(tmp_path, "json")
    steps: list[int] = []

    def progress(items: Any, reader: Any) -> Any:
        n = 0
        try:
            for item in items:
                n += 1
                yield item
        finally:
            steps.append(n)

    res = convert(src, tmp_path / "o.csv", "alpaca", from_="qa", on_error="skip",
                  progress=progress, max_record_bytes=1000)  # fmt: skip
    assert res.written > 200 and steps == [res.written]


_FIXTURES = [
    "good.csv", "good.tsv", "good.parquet", "good.json.bz2", "good.jsonl.gz", "good_gbk.jsonl",
    "good_utf16be.json", "good_minified.json", "good_object.json", "good_blank_lines.jsonl",
    "malformed.jsonl", "trailing_comma.json", "truncated.json", "truncated.jsonl.gz",
    "mojibake.jsonl", "nul.jsonl", "invalid_utf8.jsonl", "wrong_type.jsonl", "empty_answer.jsonl",
]  # fmt: skip


@pytest.mark.parametrize("name", _FIXTURES)
@pytest.mark.parametrize("workers", [1, 2])
def test_every_container_and_damage_equals_read_write(
    tmp_path: Path, name: str, workers: int
) -> None:
    """Any container (pieces of parsed records where it is not JSON) and broken streams."""
    want = _reference(Path(fixture(name)), tmp_path / "ref.jsonl", tmp_path / "ref.rej.jsonl")
    out, rej = tmp_path / "o.jsonl", tmp_path / "o.rej.jsonl"
    res = convert(fixture(name), out, "sharegpt", on_error="skip", rejects=rej, workers=workers)
    rejects = rej.read_bytes() if rej.exists() else b""
    got = (res.read, res.written, res.rejected, res.by_reason), out.read_bytes(), rejects
    assert got == want
