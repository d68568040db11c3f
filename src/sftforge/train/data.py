"""The rows a run trains on, made by sftforge's own tokenization.

Three sources, one result (``TrainData``: train and validation rows with unshifted labels, -100
where no loss is taken):

- a dataset file: read with ``chat.inputs.read_samples`` and tokenized with
  ``chat.tokenize.tokenize_samples`` (the path ``tokenize`` and ``preview`` use), so the trained
  tokens are exactly those ``preview`` showed; samples it cannot take go to
  ``<output>/rejects.jsonl`` with the reason;
- the Parquet ``tokenize`` writes (packed or not): its rows as they are;
- a run folder (``report.json`` names its outputs): its ``train`` output, and its ``validation``
  (or ``val``/``valid``/``eval``/``dev``) output when there is one.

Without a validation split, ``val_ratio`` of the train rows are held out (seeded). Packing uses
``chat.pack.pack_rows``: position ids restart at 0 for each sample, which is how the model keeps
packed samples apart (see ``loop.batch_tensors``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ..chat.pack import PackedRow, pack_rows
from ..chat.tokenize import TokenizedRow
from ..errors import InputError
from .config import TrainConfig

__all__ = ["VALIDATION_SPLITS", "TrainData", "TrainRow", "load_train_data", "row_tensors_of"]

VALIDATION_SPLITS = ("validation", "val", "valid", "eval", "dev")
TrainRow = TokenizedRow | PackedRow


@dataclass
class TrainData:
    train: list[TrainRow]
    val: list[TrainRow]
    source: str  # "dataset" | "parquet" | "run"
    packed: bool
    rejected: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def train_tokens(self) -> int:
        return sum(len(r.input_ids) for r in self.train)

    @property
    def trained_tokens(self) -> int:
        return sum(sum(1 for x in r.labels if x != -100) for r in self.train)


def row_tensors_of(row: TrainRow) -> tuple[list[int], list[int], list[int]]:
    """``(input_ids, labels, position_ids)``: position ids restart at 0 for each packed sample."""
    if isinstance(row, PackedRow):
        return row.input_ids, row.labels, row.position_ids
    return row.input_ids, row.labels, list(range(len(row.input_ids)))


def load_train_data(
    config: TrainConfig, tokenizer: Any, *, rejects: Path | None = None
) -> TrainData:
    """The train and validation rows of ``config.data`` (see the module doc)."""
    src = Path(config.data)
    if not config.data:
        raise InputError(
            "no data to train on.", field="data", hint="pass --data FILE|PARQUET|RUN_FOLDER"
        )
    if not src.exists():
        raise InputError(f"the data '{src}' does not exist.", file=str(src), field="data")
    if src.is_dir():
        train, val, rejected = _from_run(src, config, tokenizer, rejects)
        source = "run"
    elif src.suffix.lower() in (".parquet", ".pq"):
        train, val, rejected = _parquet_rows(src), [], 0
        source = "parquet"
    else:
        train, rejected = _tokenized(src, config, tokenizer, rejects)
        val, source = [], "dataset"
    data = TrainData(train, val, source, packed=False, rejected=rejected)
    _check_rows(data, src, config, tokenizer)
    if not data.val and config.val_ratio > 0 and len(data.train) > 1:
        data.train, data.val = _hold_out(data.train, config.val_ratio, config.seed)
        data.notes.append(
            f"validation: {len(data.val)} rows held out of train (val_ratio {config.val_ratio})"
        )
    if config.packing:
        data.train, data.val = (
            _packed(data.train, config.max_len),
            _packed(data.val, config.max_len),
        )
        data.notes.append("packing: position ids restart per sample; samples never attend across")
    data.packed = any(isinstance(r, PackedRow) for r in data.train)
    return data


def _tokenized(
    path: Path, config: TrainConfig, tokenizer: Any, rejects: Path | None
) -> tuple[list[TrainRow], int]:
    from ..chat.inputs import read_samples
    from ..chat.tokenize import ChatTokenizer, tokenize_samples

    chat = ChatTokenizer(
        tokenizer,
        config.template,
        train_on=config.train_on,  # type: ignore[arg-type]
        max_len=config.max_len,
        truncation="drop",
    )
    unread: list[dict[str, Any]] = []
    lines: dict[int, int] = {}
    samples = read_samples(
        path, on_error="skip", rejects=unread.append, lines=lines, label="train data"
    )
    result = tokenize_samples(samples, chat)
    entries = list(unread)
    for rej in result.rejects:
        d = rej.to_dict()
        entries.append(
            {"op": d.pop("op"), "file": str(path), "line": lines.get(id(rej.sample)), **d}
        )
    if entries and rejects is not None:
        rejects.parent.mkdir(parents=True, exist_ok=True)
        with open(rejects, "ab") as fh:
            fh.write(b"".join(orjson.dumps(e) + b"\n" for e in entries))
    if not result.rows:
        first = entries[0] if entries else {}
        raise InputError(
            f"no sample of '{path}' could be tokenized for training ({len(entries)} rejected).",
            file=str(path),
            hint=f"first reason: {first.get('reason') or first.get('error')}; see {rejects}"
            if entries
            else "the file holds no samples",
        )
    return list(result.rows), len(entries)


def _parquet_rows(path: Path) -> list[TrainRow]:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    names = set(table.column_names)
    need = {"input_ids", "labels"}
    if not need <= names:
        raise InputError(
            f"the Parquet file has no {', '.join(sorted(need - names))} column.",
            file=str(path),
            hint="train on the Parquet `sftforge tokenize` writes, or on the dataset file itself",
        )
    cols = table.to_pydict()
    if "seq_lens" in names:
        return [
            PackedRow(ids, ii, lab, pos, lens)
            for ids, ii, lab, pos, lens in zip(
                cols["ids"],
                cols["input_ids"],
                cols["labels"],
                cols["position_ids"],
                cols["seq_lens"],
                strict=True,
            )
        ]
    ids = cols.get("id") or [str(i) for i in range(table.num_rows)]
    return [
        TokenizedRow(i, ii, lab)
        for i, ii, lab in zip(ids, cols["input_ids"], cols["labels"], strict=True)
    ]


def _from_run(
    folder: Path, config: TrainConfig, tokenizer: Any, rejects: Path | None
) -> tuple[list[TrainRow], list[TrainRow], int]:
    report = folder / "report.json"
    if not report.is_file():
        raise InputError(
            f"'{folder}' is not a run folder (no report.json).",
            file=str(folder),
            hint="pass the folder `sftforge run` wrote, a dataset file or a tokenize Parquet",
        )
    outputs = orjson.loads(report.read_bytes()).get("outputs") or {}
    if "train" not in outputs:
        raise InputError(
            f"the run in '{folder}' has no 'train' output (it has: {', '.join(outputs) or 'none'}).",
            file=str(report),
            hint="name the training split 'train' in the recipe's outputs",
        )

    def rows(split: str) -> tuple[list[TrainRow], int]:
        path = Path(outputs[split]["path"])
        path = path if path.is_absolute() else folder / path
        if path.suffix.lower() in (".parquet", ".pq"):
            return _parquet_rows(path), 0
        return _tokenized(path, config, tokenizer, rejects)

    train, rejected = rows("train")
    val: list[TrainRow] = []
    for name in VALIDATION_SPLITS:
        if name in outputs:
            val, more = rows(name)
            rejected += more
            break
    return train, val, rejected


def _check_rows(data: TrainData, src: Path, config: TrainConfig, tokenizer: Any) -> None:
    vocab = len(tokenizer)
    for row in [*data.train, *data.val]:
        if len(row.input_ids) > config.max_len and not isinstance(row, PackedRow):
            raise InputError(
                f"row '{row.id}' has {len(row.input_ids)} tokens, more than max_len {config.max_len}.",
                file=str(src),
                hint="raise --max-len, or tokenize with --max-len and a truncation policy",
            )
        top = max(row.input_ids, default=0)
        if top >= vocab:
            rid = row.ids[0] if isinstance(row, PackedRow) else row.id
            raise InputError(
                f"row '{rid}' holds token id {top}, outside the model's vocabulary ({vocab}).",
                file=str(src),
                hint="this Parquet was tokenized with another tokenizer: tokenize again with the model's",
            )


def _hold_out(
    rows: list[TrainRow], ratio: float, seed: int
) -> tuple[list[TrainRow], list[TrainRow]]:
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    n_val = max(1, round(len(rows) * ratio))
    held = set(order[:n_val])
    return [r for i, r in enumerate(rows) if i not in held], [rows[i] for i in sorted(held)]


def _packed(rows: list[TrainRow], max_len: int) -> list[TrainRow]:
    plain = [r for r in rows if isinstance(r, TokenizedRow)]
    if not plain:
        return rows
    packed, _ = pack_rows(plain, max_len)
    return [*packed, *[r for r in rows if isinstance(r, PackedRow)]]
