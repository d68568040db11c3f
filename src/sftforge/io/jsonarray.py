"""A JSON array file read one element at a time, in bounded memory.

The splitter scans the bytes for the structure only: strings are skipped whole by one regex match
(so brackets and commas inside them never count), brackets change the depth, and a comma or the
closing ``]`` at depth zero ends an element. Each element's bytes go to ``orjson`` on their own,
so a 5 GB array costs one element of memory, and a broken element is reported with the line and
column where it starts while the elements after it are still read. Line numbers are counted
incrementally (``bytes.count`` between element starts), never by rescanning the buffer.

A stray separator (``[a,,b]``) or a trailing comma before ``]`` is not a record: it holds no
data, so it is neither read nor rejected. It is reported in ``notices`` (one ``RecordError`` per
place, naming file, line and column), which the commands print as a warning.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, BinaryIO

import orjson

from ..errors import InputError
from .dupkeys import duplicate_keys_error, hides_duplicate_keys
from .errors import RecordError
from .jsonl import JsonlWriter, json_error, too_large
from .pieces import Piece, PieceStream, Records, Window
from .record import RawRecord
from .textcheck import Suspects, check_text, newlines

__all__ = ["JsonArraySplitter", "JsonArrayWriter", "iter_json_array"]

# a whole string, or a structural byte, or a lone quote (a string the buffer cuts in two)
_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},]|"', re.S)
_NONWS = re.compile(rb"[^ \t\r\n]")
_SEP = re.compile(rb"[ \t\r\n]*")
_SEP_AFTER = re.compile(rb"[ \t\r\n]*,?")
_CAND_OBJ = re.compile(rb"\}(?=[ \t\r\n]*[,\]])")
_CAND_ARR = re.compile(rb"\](?=[ \t\r\n]*[,\]])")
_UNPARSED: Any = object()
_CHUNK = 1 << 20
_BATCH = 512  # at most this many elements per orjson call on the batch path...
_BATCH_BYTES = 1 << 18  # ...and bytes (orjson briefly allocates ~10x its input while parsing)


class _Splitter:
    def __init__(
        self, stream: BinaryIO, file: str, max_record_bytes: int, chunk: int, check: bool
    ) -> None:
        self.chunk = chunk
        self.check = check
        self.stream = stream
        self.file = file
        self.limit = max_record_bytes
        self.buf = b""
        self.eof = False
        self.line_at = 1  # line number at buf[counted]
        self.counted = 0
        self.col_base = 1  # column of buf[0] when buf[0] is not at a line start
        self.suspect = -1  # offset of the next byte that may start a text problem (-1: none)
        self.suspects: Suspects | None = None  # finds them in buf
        # the bytes between one object element's "}" and the next one's "{" (e.g. b"},\n  {"),
        # learned from the first two elements; None until then, b"" once batching is off
        self.sep: bytes | None = None
        self.last_close = -1  # offset of the "}" that ended the previous element, if any
        # where the scan stands between records (so it can stop, and go on in another mode)
        self.pos = -1  # offset in buf to go on from; -1 before the opening "["
        self.after_comma = False
        self.done = False
        self.base = 0  # stream offset of buf[0]
        # pieces mode (see pieces()): windows handed out and not settled yet, oldest first
        self._snaps: dict[int, dict[str, Any]] = {}
        self._keys = 0
        self._tap: _Tap | None = None
        self._no_defer_until = 0  # stream offset before which windows are not guessed again
        self._rest: Iterator[RawRecord] | None = None  # records of a batch being yielded
        self._scanner: Iterator[RawRecord | list[RawRecord] | Window] | None = None
        # stray separators met, by stream offset (a rolled-back window may scan one twice)
        self.notices: dict[int, RecordError] = {}

    # -- buffer ----------------------------------------------------------------------------
    def more(self, cut: int) -> bool:
        """Drop ``buf[:cut]`` and append more input; False at end of input (the cut still happens)."""
        self.line_at += newlines(self.buf, self.counted, cut)
        self.base += cut
        nl = self.buf.rfind(b"\n", 0, cut)
        if nl >= 0:
            self.col_base = _chars(self.buf[nl + 1 : cut]) + 1
        else:
            self.col_base += _chars(self.buf[:cut])
        rest = self.buf[cut:]
        chunk = b""
        if not self.eof:
            try:
                chunk = self.stream.read(max(self.chunk, len(rest)))  # grows for huge elements
            except InputError as exc:
                exc.file, exc.line = exc.file or self.file, exc.line or self.line_at
                raise
        self.eof = not chunk
        self.buf = rest + chunk
        self.counted = 0
        self.last_close = -1  # offsets before the cut are gone
        self.suspects = Suspects(self.buf) if self.check else None
        self.suspect = self.suspects.next(0) if self.suspects is not None else -1
        return not self.eof

    def where(self, pos: int) -> tuple[int, int]:
        """Line and column of ``buf[pos]``; ``pos`` never goes backwards between calls."""
        line = self.line(pos)
        nl = self.buf.rfind(b"\n", 0, pos)
        col = (
            _chars(self.buf[nl + 1 : pos]) + 1
            if nl >= 0
            else self.col_base + _chars(self.buf[:pos])
        )
        return line, col

    def line(self, pos: int) -> int:
        self.line_at += newlines(self.buf, self.counted, pos)
        self.counted = pos
        return self.line_at

    # -- records ---------------------------------------------------------------------------
    def element(self, start: int, end: int, value: Any = _UNPARSED) -> RawRecord:
        """The record for ``buf[start:end]``; ``value`` when the fast path already parsed it."""
        line = self.line(start)
        if 0 <= self.suspect < end:
            raw = self.buf[start:end]
            problem = check_text(raw, self.file, line)
            self.suspect = self.suspects.next(end) if self.suspects is not None else -1
            if problem is not None:
                if problem.line == line and problem.column is not None:
                    problem.column += self.where(start)[1] - 1
                return RawRecord(None, self.file, line, _text(raw), problem)
        raw = self.buf[start:end]
        if value is _UNPARSED:
            if len(raw) > self.limit:
                return RawRecord(
                    None, self.file, line, None, too_large(self.file, line, len(raw), self.limit)
                )
            try:
                value = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                _, col = self.where(start)
                err = json_error(exc, raw.rstrip(), self.file, line, col)
                return RawRecord(None, self.file, line, _text(raw), err)
        if hides_duplicate_keys(raw, value):
            dup = duplicate_keys_error(raw, self.file, line)
            if dup is not None:
                return RawRecord(None, self.file, line, _text(raw), dup)
        return RawRecord(value, self.file, line, None)

    def error(
        self, kind: str, pos: int, message: str, hint: str, raw: str | None = None
    ) -> RawRecord:
        line, col = self.where(pos)
        err = RecordError(kind, message, file=self.file, line=line, column=col, hint=hint)
        return RawRecord(None, self.file, line, raw, err)

    def notice(self, kind: str, pos: int, message: str, hint: str) -> None:
        """A stray separator at ``buf[pos]``: reported, not a record."""
        line, col = self.where(pos)
        err = RecordError(kind, message, file=self.file, line=line, column=col, hint=hint)
        self.notices.setdefault(self.base + pos, err)

    def fast(self, start: int) -> tuple[Any, int] | None:
        """Parse the object/array at ``start`` without tokenizing: try each place where it may
        end (a closing bracket followed by ``,`` or ``]``) and let orjson check the candidate.
        A JSON value has one end, so the first candidate that parses is the element. Any error
        but "unexpected end" (or too many tries) hands over to the exact scanner."""
        loads = orjson.loads
        buf = self.buf
        close = _CAND_OBJ if buf[start] == 0x7B else _CAND_ARR
        pos = start
        for _ in range(32):
            m = close.search(buf, pos)
            if m is None:
                return None
            end = m.start() + 1
            try:
                return loads(buf[start:end]), end
            except orjson.JSONDecodeError as exc:
                if not exc.msg.startswith("unexpected end"):
                    return None
            pos = end
        return None

    def _ends(self, start: int) -> list[int] | None:
        """Offsets of the ``}`` ending each element of the batch at ``start`` (see ``batch``),
        or None when there is no batch to try here."""
        sep = self.sep
        if not sep:
            return None
        buf = self.buf
        find = buf.find
        step = len(sep) - 1
        ends: list[int] = []
        p = start
        while len(ends) < _BATCH:
            i = find(sep, p, start + _BATCH_BYTES)
            if i < 0:
                break
            ends.append(i)
            p = i + step
        last = ends[-1] + 1 if ends else 0
        if 0 <= self.suspect < last:
            # batch the clean elements before the suspect one; retrying the whole window after
            # every single element would scan it once per element up to the suspect
            ends = [e for e in ends if e < self.suspect]
            last = ends[-1] + 1 if ends else 0
        if len(ends) < 8 or last - start > self.limit:
            return None
        return ends

    def batch(self, start: int) -> tuple[list[RawRecord], int] | None:
        """Many object elements in one orjson call, when the file separates elements with one
        fixed byte string (``self.sep``, as pretty-printers and our writer do).

        Every element end is followed by that separator, so if the separator occurs K times and
        ``[`` + the bytes up to the K-th occurrence + ``]`` parses into exactly K values, the
        occurrences are exactly the element boundaries. Anything else (a separator inside a
        nested value, a broken element, text to check) falls back to one element at a time.
        """
        ends = self._ends(start)
        if ends is None:
            return None
        buf = self.buf
        last = ends[-1] + 1
        try:
            values = orjson.loads(b"".join((b"[", memoryview(buf)[start:last], b"]")))
        except orjson.JSONDecodeError:
            return None
        if len(values) != len(ends):
            self.sep = b""  # the separator also occurs inside elements: stop trying
            return None
        if hides_duplicate_keys(memoryview(buf)[start:last].tobytes(), values):
            return None  # one by one, so the element with a repeated key is rejected alone
        file, count, step = self.file, buf.count, len(self.sep or b"") - 1
        line, prev = self.line(start), start
        records = [RawRecord(values[0], file, line, None)]
        for value, end in zip(values[1:], ends, strict=False):
            st = end + step
            line += count(b"\n", prev, st)
            prev = st
            records.append(RawRecord(value, file, line, None))
        self.line_at, self.counted = line, prev
        self.last_close = ends[-1]
        return records, last

    def window(self, start: int) -> Window | None:
        """``batch`` without the parse: the elements' bytes as a ``Window`` for the consumer to
        parse, the state moved on as if the batch had parsed. A snapshot of the state before it
        is kept until the consumer settles the window or rolls it back."""
        sep = self.sep
        if not sep:
            return None
        # batch()'s window found with three searches instead of one per element (elements are
        # parsed by the consumer, so their offsets are not needed): the separator's occurrences
        # in the first _BATCH_BYTES, before the next suspect byte; they cannot overlap, as the
        # separator starts with "}" and ends with "{"
        buf = self.buf
        hi = min(start + _BATCH_BYTES, len(buf))
        if self.suspect >= 0:
            hi = min(hi, self.suspect + len(sep) - 1)
        end = buf.rfind(sep, start, hi)
        if end < 0:
            return None
        last = end + 1
        count = buf.count(sep, start, end + len(sep))
        if count < 8 or last - start > self.limit:
            return None
        snap = {k: self.__dict__[k] for k in _STATE}
        assert self._tap is not None
        snap["tap"] = self._tap.hold()
        snap["until"] = self.base + last  # after a rollback, no guessing before this offset
        self._keys += 1
        self._snaps[self._keys] = snap
        first = self.line(start)
        self.line(buf.rfind(sep, start, end) + len(sep) - 1)  # the last element's start
        self.last_close = end
        return Window(buf[start:last], first, sep, count, self._keys)

    def exact(self, start: int) -> int | None:
        """End of the element at ``start`` by tokenizing (strings skipped whole); None: need more."""
        depth = 0
        pos = start
        buf = self.buf
        while True:
            m = _TOKEN.search(buf, pos)
            if m is None or (m.end() - m.start() == 1 and buf[m.start()] == 0x22):
                return None
            tok = buf[m.start()]
            if tok in b"{[":
                depth += 1
            elif tok in b"}]" and depth > 0:
                depth -= 1
            elif depth == 0 and tok in b",]":
                return m.start()
            pos = m.end()

    def scan(self, defer: bool) -> Iterator[RawRecord | list[RawRecord] | Window]:
        """Records (single, or a batch as a list) and, with ``defer``, windows. Between items the
        whole state is on ``self``, so a new scan can go on where an abandoned one stopped."""
        if self.pos < 0:
            self.pos = self._open()
        while not self.done:
            pos, after_comma = self.pos, self.after_comma
            # both patterns can match the empty string, so match() never returns None
            end = _SEP.match(self.buf, pos).end()  # type: ignore[union-attr]
            if end >= len(self.buf):
                more = self.more(pos)
                self.pos = 0
                if not more:
                    self.done = True
                    yield from self._eof(None)
                    return
                continue
            c = self.buf[end]
            if c == 0x5D:  # ]
                self.done = True
                if after_comma:
                    self.notice(
                        "trailing_comma",
                        end,
                        "trailing comma before the closing ']' (not allowed in JSON; not a record).",
                        "remove the comma after the last element",
                    )
                yield from self._after(end + 1)
                return
            if c == 0x2C:  # ,
                self.notice(
                    "stray_separator",
                    end,
                    "empty element: a comma with no value before it (not a record).",
                    "remove the comma",
                )
                self.pos, self.after_comma = end + 1, True
                continue
            start = end
            if c == 0x7B and self.sep is None and self.last_close >= 0:
                self.sep = self.buf[self.last_close : start + 1]
            if c == 0x7B and self.sep:
                if defer and self.base + start >= self._no_defer_until:
                    win = self.window(start)
                    if win is not None:
                        self._past(start + len(win.data))
                        yield win
                        continue
                else:
                    many = self.batch(start)
                    if many is not None:
                        self._past(many[1])
                        yield many[0]
                        continue
            got = self.fast(start) if c in b"{[" else None
            if got is not None:
                rec = self.element(start, got[1], got[0])
                self.last_close = got[1] - 1 if c == 0x7B else -1
                self._past(got[1])
                yield rec
                continue
            stop = self.exact(start)
            if stop is None:
                if len(self.buf) - start > self.limit:
                    raise too_large(self.file, self.line(start), len(self.buf) - start, self.limit)
                more = self.more(start)
                self.pos = 0
                if not more:
                    self.done = True
                    yield from self._eof(0)
                    return
                continue
            rec = self.element(start, stop)
            self.pos, self.after_comma = stop, False
            if self.buf[stop] == 0x2C:
                self.pos, self.after_comma = stop + 1, True
            yield rec

    def _past(self, pos: int) -> None:
        """Go on after an element ending at ``pos``: past the whitespace and comma after it."""
        self.pos = _SEP_AFTER.match(self.buf, pos).end()  # type: ignore[union-attr]
        self.after_comma = self.buf[self.pos - 1] == 0x2C

    def records(self) -> Iterator[RawRecord]:
        for item in self.scan(False):
            if type(item) is list:
                self._rest = iter(item)
                yield from self._rest
            else:
                yield item  # type: ignore[misc]

    def pieces(self, speculate: bool) -> PieceStream:
        """What ``records()`` has not yielded yet, as pieces: with ``speculate``, batches of
        elements are ``Window``s parsed by the consumer, who must ``settle`` or ``rollback`` each
        (in order). A rolled-back window is read again here exactly as ``records()`` reads it.
        ``speculate`` needs a stream that cannot fail half-way (a plain file): a window's bytes
        may be read twice then, and both reads must see the same bytes."""
        if speculate:
            self._tap = _Tap(self.stream, self.base + len(self.buf))
            self.stream = self._tap  # type: ignore[assignment]
        self._scanner = self.scan(speculate)
        return _Pieces(self)

    def settle(self, win: Window) -> None:
        del self._snaps[win.key]
        self._release()

    def rollback(self, win: Window) -> None:
        snap = self._snaps[win.key]
        for key in [k for k in self._snaps if k >= win.key]:
            del self._snaps[key]
        assert self._tap is not None
        self._tap.rewind(snap.pop("tap"))
        self._no_defer_until = snap.pop("until")
        self.__dict__.update(snap)
        self._release()
        self._scanner = self.scan(True)

    def _release(self) -> None:
        assert self._tap is not None
        oldest = next(iter(self._snaps.values()), None)
        self._tap.release(oldest["tap"] if oldest is not None else None)

    def _open(self) -> int:
        self.more(0)
        while True:
            m = _NONWS.search(self.buf)
            if m is not None:
                break
            if not self.more(len(self.buf)):
                raise InputError("the file is empty: there are no records to read.", file=self.file)
        if self.buf[m.start()] != 0x5B:
            line, col = self.where(m.start())
            raise InputError(
                "expected a JSON array ('[' first).",
                file=self.file,
                line=line,
                column=col,
                hint="pass --container jsonl for one JSON value per line",
            )
        return m.end()

    def _eof(self, start: int | None) -> Iterator[RawRecord]:
        at = start if start is not None else len(self.buf)
        raw = _text(self.buf[start:]) if start is not None else None
        what = "inside an element" if start is not None else "before the closing ']'"
        yield self.error(
            "truncated",
            at,
            f"the file ends {what}: the JSON array is cut off.",
            "the file is truncated; re-download or re-create it (the elements before were read)",
            raw,
        )

    def _after(self, pos: int) -> Iterator[RawRecord]:
        while True:
            m = _NONWS.search(self.buf, pos)
            if m is not None:
                yield self.error(
                    "invalid_json",
                    m.start(),
                    "unexpected content after the closing ']' of the array.",
                    "remove it, or pass --container jsonl if the file holds one value per line",
                    _text(self.buf[m.start() : m.start() + 1000]),
                )
                return
            if not self.more(len(self.buf)):
                return
            pos = 0


def iter_json_array(
    stream: BinaryIO,
    file: str,
    *,
    max_record_bytes: int,
    chunk_size: int = _CHUNK,
    check: bool = True,
) -> Iterator[RawRecord]:
    """Each element of the top-level JSON array in ``stream`` as a ``RawRecord``."""
    return _Splitter(stream, file, max_record_bytes, chunk_size, check).records()


class JsonArraySplitter:
    """``records()`` and ``pieces()`` of one JSON array stream (see ``sftforge.io.pieces``)."""

    def __init__(
        self,
        stream: BinaryIO,
        file: str,
        *,
        max_record_bytes: int,
        chunk_size: int = _CHUNK,
        check: bool = True,
    ) -> None:
        self._splitter = _Splitter(stream, file, max_record_bytes, chunk_size, check)

    def records(self) -> Iterator[RawRecord]:
        return self._splitter.records()

    def pieces(self, speculate: bool = True) -> PieceStream:
        return self._splitter.pieces(speculate)

    def notices(self) -> list[RecordError]:
        """The stray separators met so far, in file order (not records; see the module doc)."""
        return [self._splitter.notices[k] for k in sorted(self._splitter.notices)]


# the scan state a window's snapshot keeps (everything but the stream and the bookkeeping)
_STATE = (
    "buf", "eof", "line_at", "counted", "col_base", "suspect", "suspects", "sep", "last_close",
    "pos", "after_comma", "done", "base",
)  # fmt: skip


class _Pieces(PieceStream):
    """The splitter's pieces. Unlike a plain iterator it can go on after StopIteration: a
    rollback of a window handed out earlier makes the rest of the array readable again."""

    def __init__(self, splitter: _Splitter) -> None:
        super().__init__(iter(()), splitter.settle, splitter.rollback)
        self._sp = splitter

    def __next__(self) -> Piece:
        sp = self._sp
        if sp._rest is not None:
            rest, sp._rest = list(sp._rest), None
            if rest:
                return Records(rest)
        while True:
            scanner = sp._scanner
            if scanner is None:
                raise StopIteration
            try:
                item = next(scanner)
            except StopIteration:
                if sp._scanner is scanner:
                    sp._scanner = None
                continue
            if type(item) is Window:
                return item
            return Records(item if type(item) is list else [item])  # type: ignore[list-item]


class _Tap:
    """The stream under a speculating splitter: what was read since the oldest unsettled
    window's snapshot is kept, so a rollback can read it again."""

    def __init__(self, inner: BinaryIO, offset: int) -> None:
        self.inner = inner
        self.chunks: list[bytes] = []
        self.start = offset  # stream offset of chunks[0]
        self.end = offset  # offset after the last byte read from inner
        self.at = offset  # offset the next read starts at
        self.keep: int | None = None  # keep what was read from this offset on (None: nothing)

    def hold(self) -> int:
        """Keep what is read from here on (a window's snapshot); the offset to rewind to."""
        if self.keep is None:
            self.keep = self.at
            self._trim(self.at)
        return self.at

    def release(self, keep: int | None) -> None:
        """Only what was read from ``keep`` on must be kept now (None: nothing)."""
        self.keep = keep
        self._trim(self.at if keep is None else keep)

    def _trim(self, offset: int) -> None:
        while self.chunks and self.start + len(self.chunks[0]) <= offset:
            self.start += len(self.chunks.pop(0))

    def rewind(self, offset: int) -> None:
        self.at = offset

    def read(self, n: int) -> bytes:
        if self.at < self.end:  # read again what a rollback rewound
            kept = b"".join(self.chunks)
            data = kept[self.at - self.start : self.at - self.start + n]
            self.at += len(data)
            return data
        data = self.inner.read(n)
        if self.keep is not None:
            self.chunks.append(data)
        else:
            self.chunks, self.start = [], self.end + len(data)
        self.end += len(data)
        self.at = self.end
        return data


def _chars(data: bytes) -> int:
    return len(data.decode("utf-8", errors="replace"))


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace").strip()


class JsonArrayWriter(JsonlWriter):
    """Writes ``[`` + one compact element per line + ``]``: valid JSON that still diffs by line.

    Buffering is the JSONL writer's; only the framing (brackets, commas) differs.
    """

    def __init__(self, out: BinaryIO) -> None:
        super().__init__(out)
        self._first = True

    joiner = b",\n"

    def write_blob(self, blob: bytes) -> None:
        self.flush()
        self._out.write(b"[\n" if self._first else b",\n")
        self._out.write(blob)
        self._first = False

    def flush(self) -> None:
        if self._buf:
            lead = b"[\n" if self._first else b",\n"
            self._out.write(lead + b",\n".join(self._buf))
            self._first = False
            self._buf.clear()

    def close(self) -> None:
        self.flush()
        self._out.write(b"[]\n" if self._first else b"\n]\n")
