"""The library entry points: ``read``, ``write``, ``read_documents``.

``read`` opens a file (any container, compression, encoding), picks its format (given, or
detected from the first records) and yields ``Sample`` objects (``Document`` for text formats).
Records that cannot be read, parsed or validated are errors carrying file and line: with
``on_error="raise"`` the first one is raised, with ``"skip"`` each goes to ``rejects`` and the
reading goes on. ``stats`` always satisfies ``read == ok + rejected``.
"""

from __future__ import annotations

import importlib
import itertools
import os
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

from ._gc import gc_relaxed
from .errors import EmptyAnswer, FormatError, InputError, SchemaError, SftforgeError
from .formats._common import ANSWER_OPTIONAL
from .formats.base import FORMATS, Format, LossLog, get_format
from .io.atomic import AtomicFile
from .io.containers import DEFAULT_MAX_RECORD_BYTES, RecordSource, open_writer, read_records
from .io.pieces import PieceStream, Records
from .io.record import RawRecord
from .io.rejects import RejectsSink, RejectsTarget, reject_entry
from .sample import Document, Sample, validate_sample

if TYPE_CHECKING:  # (imported where a mapping is used: a plain conversion needs no column maps)
    from .formats.columns import ColumnMap

__all__ = [
    "ReadStats",
    "Reader",
    "WriteResult",
    "decode",
    "load_formats",
    "read",
    "read_documents",
    "resolve_format",
    "write",
]

DETECT_RECORDS = 100
# a column mapping: ``问题=prompt,答案=response``, ``{SOURCE: PART}``, a ColumnMap, or "auto"
ColumnsArg: TypeAlias = "str | Mapping[str, Any] | ColumnMap | None"
_KEEP_ERRORS = 1000


def load_formats() -> None:
    """Import every format module so the registry is complete (idempotent, cheap after once)."""
    importlib.import_module("sftforge.formats")
    importlib.import_module("sftforge.formats.native")


def _dataset_info(spec: str) -> tuple[Format, str | None]:
    """``llamafactory:<dataset_info.json>#<entry>`` -> the entry's Format and its data file."""
    body = spec.split(":", 1)[1]
    info_path, _, name = body.partition("#")
    if not name:
        raise FormatError(
            f"'{spec}' names no dataset entry.",
            hint="write it as llamafactory:<path to dataset_info.json>#<entry name>",
        )
    try:
        lf = importlib.import_module("sftforge.formats.llamafactory")
    except ImportError:
        raise FormatError("dataset_info.json support is not installed in this build.") from None
    entry = lf.load_dataset_info(info_path, name)[name]
    return entry.format, (str(entry.path) if entry.path is not None else None)


def _is_info_ref(path: str) -> bool:
    """``data/dataset_info.json#alpaca_en_demo``: a dataset named through its registry."""
    head, sep, name = path.rpartition("#")
    return bool(sep and name and head.endswith(".json") and os.path.isfile(head))


def resolve_format(spec: str | Format) -> Format:
    """A Format from a registry name, a ``llamafactory:<file>#<entry>`` spec, or an instance."""
    if isinstance(spec, Format):
        return spec
    load_formats()
    if spec.startswith("llamafactory:"):
        return _dataset_info(spec)[0]
    return get_format(spec)


def _detect(values: list[Any], names: list[str]) -> tuple[str, float]:
    try:
        detect = importlib.import_module("sftforge.formats.detect").detect_format
    except (ImportError, AttributeError):
        detect = None
    if detect is not None:
        name, conf = detect(values, candidates=names)
        return str(name), float(conf)
    sample = [v for v in values if v is not None]
    scores = (
        {n: sum(FORMATS[n].detect(v) for v in sample) / len(sample) for n in names}
        if sample
        else {}
    )
    best = max(scores, key=lambda n: scores[n], default=None)
    if best is None or scores[best] < 0.5:
        raise FormatError(
            "cannot detect the format of the records.",
            hint=f"pass --from with one of: {', '.join(sorted(names))}",
        )
    return best, round(scores[best], 3)


# keys of a canonical row (record or turn) that the OpenAI format, which such rows fit as well,
# does not know: a row with one of them is sftforge's own
_CANONICAL_ONLY = frozenset({"meta", "rejected", "reasoning", "train", "extra"})


def _canonical(head: list[RawRecord]) -> bool:
    """Whether rows read with answers optional (a generator's prompts, a recipe's input, a studio
    import of prompts) are sftforge's canonical form (``{"messages": [...]}`` with plain turns,
    the ``id`` optional) rather than the OpenAI records they fit as well: the first readable
    record fits the canonical form and a record of ``head`` uses a key only that form knows
    (``meta`` above all, which the OpenAI format would keep as an unknown field rather than as
    the sample's meta). Plain ``{"messages": [...]}`` rows stay OpenAI records, whose own
    errors (an image part, say) then name what is wrong; both read a prompt without an answer."""
    values = [r.value for r in head if r.error is None and type(r.value) is dict]
    if not values or FORMATS["sftforge"].detect({"id": "", **values[0]}) <= 0:
        return False
    for v in values:
        if not _CANONICAL_ONLY.isdisjoint(v):
            return True
        msgs = v.get("messages")
        if type(msgs) is list and any(
            type(m) is dict and not _CANONICAL_ONLY.isdisjoint(m) for m in msgs
        ):
            return True
    return False


def _unreadable(head: list[RawRecord]) -> None:
    """Raise the first record's error when no record of ``head`` could be read at all, so the
    user sees the real problem (file:line:column and its fix) rather than "no records"."""
    if any(r.error is None and r.value is not None for r in head):
        return
    err = next((r.error for r in head if r.error is not None), None)
    if err is None:
        return
    first = next(r for r in head if r.error is err)
    err.file = err.file or first.source
    if err.line is None:
        err.line = first.line
    err.message = f"cannot detect the format: no record could be read. First problem: {err.message}"
    raise err


def _parse_answer_optional(fmt: Format, value: Any) -> Any:
    """``fmt.parse(value)`` where a conversation may lack its answer: a record the format
    refuses only for that (``EmptyAnswer``) is parsed again with ``ANSWER_OPTIONAL`` set, so it
    comes out as the format reads it, with its prompt and no (or an empty) answer."""
    try:
        return fmt.parse(value)
    except EmptyAnswer:
        pass
    token = ANSWER_OPTIONAL.set(True)
    try:
        return fmt.parse(value)
    finally:
        ANSWER_OPTIONAL.reset(token)


def decode(
    fmt: Format, value: Any, validate: bool, require_answer: bool, read_prompts: bool | None = None
) -> tuple[Any, str, SftforgeError | None]:
    """One record value -> ``(Sample or Document, "", None)`` or ``(None, kind, error)``.

    A format's ``FormatError`` is kind ``format``; a Sample failing ``validate_sample`` is kind
    ``schema``. The error carries no file/line: the caller knows where the record came from.
    ``read_prompts`` (default: ``not require_answer``): a record the format refuses only for its
    missing answer is read as its prompt.
    """
    prompts = not require_answer if read_prompts is None else read_prompts
    try:
        obj = _parse_answer_optional(fmt, value) if prompts else fmt.parse(value)
    except FormatError as err:
        return None, "format", err
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        # a format that trips over odd input must still name the record, not crash
        return (
            None,
            "format",
            FormatError(
                f"cannot be read as '{fmt.name}' ({type(exc).__name__}: {exc}).",
                hint="pass --from with the record's real format",
            ),
        )
    if validate and fmt.kind == "sample":
        problems = validate_sample(obj, require_answer=require_answer)
        if problems:
            return (
                None,
                "schema",
                SchemaError(
                    "; ".join(problems) + ".",
                    sample_id=obj.id,
                    hint="fix the record, or pass --on-error skip to leave it out",
                ),
            )
    return obj, "", None


@dataclass
class ReadStats:
    """Counts for one read: ``read == ok + rejected`` always holds."""

    read: int = 0
    ok: int = 0
    rejected: int = 0
    by_reason: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "ok": self.ok,
            "rejected": self.rejected,
            "by_reason": dict(self.by_reason),
        }


class Reader:
    """An open input: iterate it for Samples (or Documents). Use as a context manager."""

    def __init__(
        self,
        path: str | os.PathLike[str] | None,
        format: str | Format | None = None,
        *,
        on_error: str = "raise",
        rejects: RejectsTarget = None,
        encoding: str | None = None,
        container: str | None = None,
        compression: str | None = None,
        allow_lossy: bool = False,
        validate: bool = True,
        require_answer: bool = True,
        read_prompts: bool | None = None,
        text_mode: str = "line",
        max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
        check_text: bool = True,
        kinds: tuple[str, ...] = ("sample", "document"),
        columns: ColumnsArg = None,
    ) -> None:
        if on_error not in ("raise", "skip"):
            raise InputError(f"unknown on_error '{on_error}'.", hint="use 'raise' or 'skip'")
        load_formats()
        fmt: Format | None = None
        # the column mapping in use: given, or proposed from the keys (columns="auto")
        self.columns: ColumnMap | None = None
        auto = isinstance(columns, str) and columns == "auto"
        if columns is not None and not auto:
            if format is not None or (isinstance(path, str) and _is_info_ref(path)):
                raise InputError(
                    "both a format (or a dataset_info.json entry) and a column mapping were given.",
                    hint="pass --columns alone (it says where each part is), or --from alone",
                )
            from .formats.columns import ColumnMap

            self.columns = ColumnMap.coerce(columns)
            format = self.columns.format()
        if format is None and isinstance(path, str) and _is_info_ref(path):
            format, path = f"llamafactory:{path}", None
        if isinstance(format, str) and format.startswith("llamafactory:"):
            fmt, data_path = _dataset_info(format)
            path = path if path is not None else data_path
        elif format is not None:
            fmt = resolve_format(format)
        if path is None:
            raise InputError("no input file given.", hint="pass a path, or '-' for stdin")
        self.on_error = on_error
        self.allow_lossy = allow_lossy  # reading never drops fields; kept for API symmetry
        self.validate = validate
        self.require_answer = require_answer
        # a record without an answer read as its prompt (what answers optional means), or
        # refused by its format while the answers that are there need no content (a recipe with
        # nothing to answer prompts: its filters judge blank and placeholder answers)
        self.read_prompts = not require_answer if read_prompts is None else read_prompts
        self.stats = ReadStats()
        self.errors: list[SftforgeError] = []  # the first errors, for validate/inspect
        self.line = 0  # the line of the record last yielded (where a later reject points)
        self.source: RecordSource = read_records(
            os.fspath(path),
            container=container,
            encoding=encoding,
            compression=compression,
            text_mode=text_mode,
            max_record_bytes=max_record_bytes,
            check_text=check_text,
        )
        self._rejects = RejectsSink(rejects)
        self._records: Iterator[RawRecord] = iter(self.source)
        self._head: list[RawRecord] = []  # read for detection, not yet handed out
        self._started = False
        self.confidence = 1.0
        if fmt is None:
            head = self._head = list(itertools.islice(self._records, DETECT_RECORDS))
            self._records = itertools.chain(head, self._records)
            names = [n for n, f in FORMATS.items() if f.kind in kinds]
            try:
                _unreadable(head)
                name, self.confidence = _detect([r.value for r in head], names)
                if self.read_prompts and _canonical(head):
                    name = "sftforge"
                fmt = FORMATS[name]
            except InputError as err:  # FormatError, or the first record's error
                err.file = err.file or self.source.name
                fmt = self._proposed(err, head, auto)
                if fmt is None:
                    self.close(ok=False)
                    raise
        elif fmt.kind not in kinds:
            self.close(ok=False)
            raise FormatError(f"format '{fmt.name}' does not hold {' or '.join(kinds)}s.")
        elif self.columns is not None:
            head = self._head = list(itertools.islice(self._records, DETECT_RECORDS))
            self._records = itertools.chain(head, self._records)
            try:
                self.columns.check_fields([r.value for r in head], self.source.name)
            except FormatError:
                self.close(ok=False)
                raise
        self.format: Format = fmt

    def _proposed(self, err: InputError, head: list[RawRecord], use: bool) -> Format | None:
        """When no format fits: the mapping proposed from the records' keys, used (``use``) or
        named in the error's fix as the exact ``--columns`` flag."""
        if not isinstance(err, FormatError) or not err.message.startswith("cannot detect"):
            return None
        from .formats.columns_guess import propose_columns

        try:
            proposal = propose_columns([r.value for r in head])
        except FormatError:
            proposal = None
        if proposal is None:
            return None
        if use:
            self.columns, self.confidence = proposal, 0.0
            return proposal.format()
        err.hint = f"pass --columns {proposal.spec()} (proposed from the keys), or " + (
            (err.hint or "").removeprefix("pass ")
        )
        return None

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def notices(self) -> list[SftforgeError]:
        """Problems in the file that are not records (a JSON array's stray or trailing comma),
        each naming file, line and column; they are in no count (see ``RecordSource.notices``)."""
        return list(self.source.notices)

    def progress(self) -> tuple[int, int | None]:
        """Bytes read so far and the file size (None for stdin)."""
        return self.source.bytes_read(), self.source.size

    def reject(self, rec: RawRecord, err: SftforgeError, kind: str) -> None:
        """Count a bad record, then raise it (``on_error="raise"``) or send it to the rejects."""
        err.file = err.file or rec.source
        if err.line is None:
            err.line = rec.line
        # the traceback (frames holding the record) would make a reference cycle per error
        err.__traceback__ = None
        self.stats.rejected += 1
        self.stats.by_reason[kind] += 1
        if self.on_error == "raise":
            raise err
        if len(self.errors) < _KEEP_ERRORS:
            self.errors.append(err)
        self._rejects(reject_entry(rec, err, kind))

    def raw_pieces(self) -> PieceStream:
        """The input as pieces (``sftforge.io.pieces``: unparsed blocks of lines or array
        elements where the container allows) for callers that decode them elsewhere, with
        ``decode`` and ``reject`` keeping the same stats and rejects as iterating would. Only
        before anything was read: the records read for format detection come first."""
        if self._started:
            raise RuntimeError("raw_pieces() must be called before the reader is iterated")
        self._started = True
        pieces = self.source.pieces()
        return pieces.after(Records(self._head)) if self._head else pieces

    def __iter__(self) -> Iterator[Any]:
        self._started = True
        fmt, validate, require_answer = self.format, self.validate, self.require_answer
        prompts = self.read_prompts
        stats = self.stats
        for rec in self._records:
            stats.read += 1
            if rec.error is not None:
                self.reject(rec, rec.error, getattr(rec.error, "kind", "input"))
                continue
            obj, kind, err = decode(fmt, rec.value, validate, require_answer, prompts)
            if err is not None:
                self.reject(rec, err, kind)
                continue
            stats.ok += 1
            self.line = rec.line
            yield obj

    def close(self, ok: bool = True) -> None:
        self.source.close()
        self._rejects.close(ok)

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.close(ok=exc_type is None)


def read(
    path: str | os.PathLike[str] | None,
    format: str | Format | None = None,
    *,
    on_error: str = "raise",
    rejects: RejectsTarget = None,
    encoding: str | None = None,
    container: str | None = None,
    allow_lossy: bool = False,
    columns: ColumnsArg = None,
    **options: Any,
) -> Reader:
    """Open ``path`` (``-`` is stdin) and return a ``Reader`` of Samples (or Documents).

    ``format``: a registry name (``alpaca``, ``sharegpt``...), ``llamafactory:<dataset_info.json>#<entry>``
    (``path`` may then be ``None``: the entry's file is read), a ``Format`` instance, or ``None``
    to detect it from the first records. ``on_error``: ``"raise"`` (default) or ``"skip"``, which
    sends each bad record with file, line and reason to ``rejects`` (a path or a callable).
    ``columns``: a column mapping instead of a format (``"问题=prompt,答案=response"`` or
    ``{"问题": "prompt", "答案": "response"}``, see ``sftforge.formats.columns``); ``"auto"``
    detects the format and, when none fits, reads with the mapping proposed from the keys.
    More keywords: ``compression``, ``validate``, ``require_answer``, ``read_prompts`` (default
    ``not require_answer``: a record without an answer is read as its prompt), ``text_mode``,
    ``max_record_bytes``, ``check_text`` (False keeps mojibake/U+FFFD text instead of rejecting it).
    """
    return Reader(
        path, format, on_error=on_error, rejects=rejects, encoding=encoding,
        container=container, allow_lossy=allow_lossy, columns=columns, **options,
    )  # fmt: skip


def read_documents(
    path: str | os.PathLike[str], format: str | Format | None = None, **options: Any
) -> Iterator[Document]:
    """Documents from a text file (whole file by default), ``{"text": ...}`` records or strings."""
    load_formats()
    if format is None and "text" not in FORMATS:
        format = _PlainText()
    options.setdefault("text_mode", "document")
    with Reader(path, format, kinds=("document",), **options) as reader:
        yield from reader


class _PlainText(Format):
    """Documents from strings or ``{"text": ...}`` when no text format is registered."""

    name = "text"
    kind = "document"

    def detect(self, value: Any) -> float:
        return (
            0.6 if isinstance(value, str) or (isinstance(value, dict) and "text" in value) else 0.0
        )

    def parse(self, value: Any) -> Document:  # type: ignore[override]
        text = value.get("text") if isinstance(value, dict) else value
        if not isinstance(text, str) or not text.strip():
            raise FormatError("a document needs a non-empty string 'text'.", field="text")
        return Document(text)


@dataclass
class WriteResult:
    """What a write did: records written and what a lossy conversion dropped (by kind)."""

    count: int
    losses: dict[str, int]
    path: str
    container: str
    compression: str | None


def write(
    samples: Iterable[Sample | Document],
    path: str | os.PathLike[str],
    format: str | Format,
    *,
    container: str | None = None,
    allow_lossy: bool = False,
    compression: str | None = None,
    text_mode: str = "line",
    dataset_info: str | os.PathLike[str] | None = None,
    dataset_name: str | None = None,
) -> WriteResult:
    """Write ``samples`` to ``path`` (``-`` is stdout) in ``format``, atomically.

    A sample the format cannot carry fully raises ``ConversionError`` (nothing is written) unless
    ``allow_lossy``; then the dropped parts are counted in ``losses``. With ``dataset_info`` (a
    LLaMA-Factory ``dataset_info.json``, created or updated) an entry named ``dataset_name``
    (default: the output's file name without extensions) describing the output is added.
    """
    fmt = resolve_format(format)
    loss = LossLog(allow=allow_lossy)
    dump = fmt.dump
    target = os.fspath(path)
    features = _features_for(dataset_info, target)
    with open_writer(
        target, container=container, compression=compression,
        default_container=fmt.default_container, text_mode=text_mode,
    ) as out, gc_relaxed():  # fmt: skip
        put = out.write
        if features is None:
            for sample in samples:
                put(dump(sample, loss))  # type: ignore[arg-type]
        else:
            for sample in samples:
                if isinstance(sample, Sample):
                    features.observe(sample)
                put(dump(sample, loss))  # type: ignore[arg-type]
    if dataset_info is not None:
        _add_dataset_info(os.fspath(dataset_info), dataset_name, fmt, target, features)
    return WriteResult(out.count, dict(loss.counts), target, out.container, out.compression)


def _features_for(dataset_info: str | os.PathLike[str] | None, target: str) -> Any:
    if dataset_info is None:
        return None
    folder = os.path.dirname(os.path.abspath(os.fspath(dataset_info)))
    if target == "-" or os.path.relpath(os.path.abspath(target), folder).startswith(".."):
        raise InputError(
            f"the output {target} is not inside the folder of {os.fspath(dataset_info)}; "
            "LLaMA-Factory only reads files next to dataset_info.json.",
            hint="write the output into that folder (or a folder below it)",
        )
    return importlib.import_module("sftforge.formats.llamafactory").DatasetFeatures()


def _add_dataset_info(
    info_path: str, name: str | None, fmt: Format, target: str, features: Any
) -> None:
    """Create or update ``info_path`` with an entry for ``target`` (atomic, other entries kept)."""
    import orjson

    lf = importlib.import_module("sftforge.formats.llamafactory")
    folder = os.path.dirname(os.path.abspath(info_path))
    file_name = os.path.relpath(os.path.abspath(target), folder)
    info: dict[str, Any] = {}
    if os.path.exists(info_path):
        try:
            with open(info_path, "rb") as fh:
                info = orjson.loads(fh.read())
        except orjson.JSONDecodeError as exc:
            raise InputError(
                f"cannot update: it is not valid JSON ({exc}).",
                file=info_path,
                hint="fix or remove the file",
            ) from None
        if not isinstance(info, dict):
            raise InputError(
                "cannot update: it does not hold an object of entries.", file=info_path
            )
    key = name or os.path.basename(target).split(".")[0]
    info[key] = lf.dataset_info_entry(fmt, file_name, features)
    out = AtomicFile(info_path)
    try:
        out.fh.write(orjson.dumps(info, option=orjson.OPT_INDENT_2) + b"\n")
    except BaseException:
        out.abort()
        raise
    out.commit()
