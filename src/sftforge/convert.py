"""``convert``: read a file in one format and write it in another, in one call.

Small inputs (and any output but JSON/JSONL) go through ``read`` + ``write`` in this process.
Larger ones are decoded and re-encoded by a pool of forked worker processes: the main process
splits the container into records and writes the output; each worker turns a batch of record
values into Samples, validates them and serialises them in the target format. Batches come back
in order and at most ``2 x workers`` are in flight, so memory stays bounded and the output,
rejects and errors are exactly those of the serial path.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from .api import Reader, decode, read, resolve_format, write
from .errors import ConversionError, FormatError, SchemaError, SftforgeError
from .formats.base import Format, LossLog
from .io.containers import container_from_name, open_writer
from .io.record import RawRecord

__all__ = ["PARALLEL_MIN_BYTES", "ConvertResult", "convert"]

PARALLEL_MIN_BYTES = 16 << 20  # below this, forking workers costs more than it saves
_BATCH = 2000


@dataclass
class ConvertResult:
    read: int
    written: int
    rejected: int
    format: str
    confidence: float
    container: str
    by_reason: dict[str, int] = field(default_factory=dict)
    losses: dict[str, int] = field(default_factory=dict)
    workers: int = 1


def convert(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    to: str | Format,
    *,
    from_: str | Format | None = None,
    on_error: str = "raise",
    rejects: Any = None,
    allow_lossy: bool = False,
    out_container: str | None = None,
    compression: str | None = None,
    workers: int | None = None,
    progress: Callable[[Iterable[Any], Reader], Iterator[Any]] | None = None,
    on_open: Callable[[Reader], None] | None = None,
    dataset_info: str | os.PathLike[str] | None = None,
    dataset_name: str | None = None,
    **read_options: Any,
) -> ConvertResult:
    """Convert ``src`` to ``dst`` in format ``to``; ``read``/``write`` semantics and errors.

    ``workers``: processes for decoding/encoding (default: the CPU count, used only for inputs
    of at least ``PARALLEL_MIN_BYTES`` written as JSON/JSONL). ``progress`` wraps the sample
    stream (the CLI's progress bar); ``on_open`` is called once the format is known.
    """
    target = resolve_format(to)
    out = os.fspath(dst)
    with read(src, from_, on_error=on_error, rejects=rejects, **read_options) as reader:
        if on_open is not None:
            on_open(reader)
        n = _workers(workers, reader, out, out_container, dataset_info)
        if n > 1:
            records = reader.raw_records()
            if progress is not None:
                records = progress(records, reader)
            written, losses = _parallel(
                reader, records, target, out, out_container, compression, allow_lossy, n
            )
        else:
            stream = progress(reader, reader) if progress is not None else reader
            res = write(
                stream, out, target, container=out_container, allow_lossy=allow_lossy,
                compression=compression, dataset_info=dataset_info, dataset_name=dataset_name,
            )  # fmt: skip
            written, losses = res.count, res.losses
    s = reader.stats
    return ConvertResult(
        s.read, written, s.rejected, reader.format.name, reader.confidence,
        reader.source.container, dict(s.by_reason), losses, n,
    )  # fmt: skip


def _workers(
    workers: int | None, reader: Reader, out: str, container: str | None, info: Any
) -> int:
    n = workers if workers is not None else (os.cpu_count() or 1)
    kind = container or container_from_name(out) or reader.format.default_container
    size = reader.source.size or 0
    if (
        n <= 1
        or info is not None
        or kind not in ("jsonl", "json")
        or (workers is None and size < PARALLEL_MIN_BYTES)
        or "fork" not in multiprocessing.get_all_start_methods()
    ):
        return 1
    return n


# -- worker side ------------------------------------------------------------------------------
_STATE: tuple[Format, Format, bool, bool, bool] | None = None


def _init(state: tuple[Format, Format, bool, bool, bool]) -> None:
    global _STATE
    _STATE = state


def _error_fields(err: SftforgeError) -> dict[str, Any]:
    return {
        "message": err.message,
        "field": err.field,
        "sample_id": err.sample_id,
        "hint": err.hint,
        "column": err.column,
    }


def _work(values: list[Any]) -> tuple[list[Any], dict[str, int]]:
    """Decode, validate and encode one batch; errors come back as (kind, fields) tuples."""
    assert _STATE is not None
    fmt, target, validate, require_answer, allow_lossy = _STATE
    loss = LossLog(allow=allow_lossy)
    dump, dumps = target.dump, orjson.dumps
    out: list[Any] = []
    for value in values:
        obj, kind, err = decode(fmt, value, validate, require_answer)
        if err is not None:
            out.append((kind, _error_fields(err)))
            continue
        try:
            out.append(dumps(dump(obj, loss)))
        except ConversionError as cerr:
            out.append(("conversion", _error_fields(cerr)))
    return out, dict(loss.counts)


# -- main side --------------------------------------------------------------------------------
_ERRORS: dict[str, type[SftforgeError]] = {
    "format": FormatError,
    "schema": SchemaError,
    "conversion": ConversionError,
}


def _parallel(
    reader: Reader,
    records: Iterator[RawRecord],
    target: Format,
    out: str,
    container: str | None,
    compression: str | None,
    allow_lossy: bool,
    n: int,
) -> tuple[int, dict[str, int]]:
    ctx = multiprocessing.get_context("fork")
    state = (reader.format, target, reader.validate, reader.require_answer, allow_lossy)
    losses: Counter[str] = Counter()
    pending: deque[tuple[list[RawRecord], Any]] = deque()
    with (
        ctx.Pool(n, initializer=_init, initargs=(state,)) as pool,
        open_writer(
            out, container=container, compression=compression,
            default_container=target.default_container,
        ) as writer,
    ):  # fmt: skip

        def collect() -> None:
            batch, handle = pending.popleft()
            results, lost = handle.get()
            losses.update(lost)
            _merge(reader, batch, iter(results), writer.write_encoded)

        for batch in _batches(records):
            values = [r.value for r in batch if r.error is None]
            pending.append((batch, pool.apply_async(_work, (values,))))
            if len(pending) >= 2 * n:
                collect()
        while pending:
            collect()
        pool.close()
        pool.join()
    return writer.count, dict(losses)


def _batches(records: Iterator[RawRecord]) -> Iterator[list[RawRecord]]:
    batch: list[RawRecord] = []
    for rec in records:
        batch.append(rec)
        if len(batch) >= _BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _merge(
    reader: Reader, batch: list[RawRecord], results: Iterator[Any], put: Callable[[bytes], None]
) -> None:
    """Apply one batch's outcomes in input order, exactly as the serial reader would."""
    stats = reader.stats
    for rec in batch:
        stats.read += 1
        if rec.error is not None:
            reader.reject(rec, rec.error, getattr(rec.error, "kind", "input"))
            continue
        res = next(results)
        if type(res) is bytes:
            stats.ok += 1
            put(res)
            continue
        kind, fields = res
        column = fields.pop("column")
        err = _ERRORS[kind](fields.pop("message"), **fields)
        err.column = column
        if kind == "conversion":
            stats.ok += 1  # it was read fine; the write refuses it (as write() would)
            raise err
        reader.reject(rec, err, kind)
