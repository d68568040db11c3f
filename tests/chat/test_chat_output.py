"""Parquet output read back by `datasets`, the JSONL debug view, and token statistics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from chat_fixtures import CONVERSATIONS

from sftforge.chat import ChatTokenizer, pack_rows, tokenize_samples
from sftforge.chat.output import write_debug_jsonl, write_parquet
from sftforge.chat.stats import histogram, role_token_counts


@pytest.fixture
def rows(bpe_tok: Any) -> list[Any]:
    return tokenize_samples(list(CONVERSATIONS.values()), bpe_tok, "qwen2.5").rows


def _load(path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    datasets = pytest.importorskip("datasets")
    return datasets.load_dataset(
        "parquet", data_files=str(path), split="train", cache_dir=str(cache)
    )


def test_unpacked_parquet_loads_with_datasets(
    rows: list[Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_parquet(rows, tmp_path / "out.parquet")
    ds = _load(tmp_path / "out.parquet", tmp_path / "cache", monkeypatch)
    assert ds.column_names == ["id", "input_ids", "labels", "attention_mask"]
    assert [dict(r) for r in ds] == [r.to_dict() for r in rows]


def test_packed_parquet_loads_with_datasets(
    rows: list[Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    packed, _ = pack_rows(rows, 512)
    write_parquet(packed, tmp_path / "packed.parquet")
    ds = _load(tmp_path / "packed.parquet", tmp_path / "cache", monkeypatch)
    assert ds.column_names == [
        "ids",
        "input_ids",
        "labels",
        "attention_mask",
        "position_ids",
        "seq_lens",
    ]
    assert [dict(r) for r in ds] == [p.to_dict() for p in packed]
    assert all(sum(r["seq_lens"]) == len(r["input_ids"]) for r in ds)


def test_debug_view_marks_trained_text(bpe_tok: Any, tmp_path: Path) -> None:
    row = ChatTokenizer(bpe_tok, "chatml").tokenize(CONVERSATIONS["single"])
    write_debug_jsonl([row], bpe_tok, tmp_path / "debug.jsonl")
    (obj,) = [orjson.loads(line) for line in (tmp_path / "debug.jsonl").read_bytes().splitlines()]
    assert obj["marked"] == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\nHello world, how are you?<|im_end|>\n"
        "<|im_start|>assistant\n⟦I am fine, thank you.<|im_end|>⟧\n"
    )
    assert obj["text"] == obj["marked"].replace("⟦", "").replace("⟧", "")
    assert (obj["id"], obj["n_tokens"], obj["n_trained"]) == (
        row.id,
        len(row.input_ids),
        row.n_trained,
    )


@pytest.mark.parametrize(
    ("values", "counts"),
    [
        ([0, 31, 32, 100, 20000], [2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1]),
        ([], [0] * 11),
    ],
)
def test_histogram(values: list[int], counts: list[int]) -> None:
    assert histogram(values)["counts"] == counts


def test_role_counts_cover_every_token(bpe_tok: Any) -> None:
    chat = ChatTokenizer(bpe_tok, "chatml")
    sample = CONVERSATIONS["single"]
    rendered = chat.render(sample)
    ids, _, enc = chat.encode([rendered])[0]
    assert enc is not None
    counts = role_token_counts(rendered.text, sample, enc)
    user_alone = len(bpe_tok.encode("\nHello world, how are you?", add_special_tokens=False)) - 1
    assert counts["user"] == user_alone
    assert sum(counts.values()) == len(ids)
    assert set(counts) == {"system", "user", "assistant", "template"}


def test_stats_report(bpe_tok: Any) -> None:
    result = tokenize_samples([CONVERSATIONS["single"]] * 3, bpe_tok, "chatml")
    report = result.stats.to_dict()
    n = len(result.rows[0].input_ids)
    trained = result.rows[0].n_trained
    assert (report["samples"], report["tokens"], report["trained_tokens"]) == (
        3,
        3 * n,
        3 * trained,
    )
    assert report["per_role"]["assistant"] == 3 * len(
        bpe_tok.encode("I am fine, thank you.", add_special_tokens=False)
    )


def test_rows_stream_to_row_groups_with_the_same_content(rows: list[Any], tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    from sftforge.chat.output import ParquetRowWriter

    assert len(rows) >= 3
    with ParquetRowWriter(tmp_path / "s.parquet", group_rows=2) as writer:
        for r in rows:
            writer.add(r)
        assert not (tmp_path / "s.parquet").exists()  # renamed into place only when closed
    f = pq.ParquetFile(tmp_path / "s.parquet")
    assert f.metadata.num_row_groups == (len(rows) + 1) // 2
    write_parquet(rows, tmp_path / "whole.parquet")
    assert f.read().equals(pq.read_table(tmp_path / "whole.parquet"))


def test_a_failed_stream_leaves_nothing(rows: list[Any], tmp_path: Path) -> None:
    from sftforge.chat.output import ParquetRowWriter

    with pytest.raises(RuntimeError), ParquetRowWriter(tmp_path / "s.parquet") as writer:
        writer.add(rows[0])
        raise RuntimeError("stop")
    assert list(tmp_path.iterdir()) == []


def test_tokenize_sink_gets_the_rows_in_order(bpe_tok: Any, rows: list[Any]) -> None:
    got: list[Any] = []
    result = tokenize_samples(list(CONVERSATIONS.values()), bpe_tok, "qwen2.5", sink=got.append)
    assert result.rows == []
    assert [r.to_dict() for r in got] == [r.to_dict() for r in rows]
    assert result.counts["kept"] == len(rows)


def test_groups_whose_labels_are_their_ids_read_back_as_written(tmp_path: Path) -> None:
    """A group where every label is its id shares the ids column; a group with one masked
    token does not: both read back exactly."""
    import pyarrow.parquet as pq

    from sftforge.chat.output import ParquetRowWriter
    from sftforge.chat.tokenize import TokenizedRow

    rows = [
        TokenizedRow("a", [5, 6, 7], [5, 6, 7]),
        TokenizedRow("b", [8, 9], [8, 9]),
        TokenizedRow("c", [1, 2, 3], [-100, 2, 3]),
        TokenizedRow("d", [4], [4]),
    ]
    with ParquetRowWriter(tmp_path / "s.parquet", group_rows=2) as writer:
        for r in rows:
            writer.add(r)
    got = pq.read_table(tmp_path / "s.parquet").to_pylist()
    assert [(g["id"], g["input_ids"], g["labels"]) for g in got] == [
        (r.id, r.input_ids, r.labels) for r in rows
    ]
