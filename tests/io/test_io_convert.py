"""``sftforge.convert``: the worker-pool path gives exactly the serial path's output and rejects."""

from __future__ import annotations

from pathlib import Path

import pytest
from io_support import fixture

from sftforge.convert import convert
from sftforge.errors import ConversionError, SftforgeError


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
