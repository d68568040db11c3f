"""Pieces (``sftforge.io.pieces``): handing the input over unparsed gives exactly the records.

For JSONL and JSON arrays, reading ``pieces()`` and expanding each piece (a window parsed by the
consumer, late or at once, and rolled back when its cut was wrong) must give the same values,
lines and errors as ``records()``, at any chunk size, for clean and for damaged input.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sftforge.io import jsonarray, jsonl
from sftforge.io.jsonarray import JsonArraySplitter
from sftforge.io.jsonl import JsonlSplitter, lines_records
from sftforge.io.pieces import Lines, PieceStream, Records, Window, window_starts
from sftforge.io.record import RawRecord

LIMIT = 1 << 20
Row = tuple[Any, int, str | None]


def _rows(records: list[RawRecord]) -> list[Row]:
    return [(r.value, r.line, str(r.error) if r.error else None) for r in records]


def _window_records(win: Window, file: str) -> list[RawRecord] | None:
    values = win.values()
    if values is None:
        return None
    starts = window_starts(win.data, win.sep, win.count)
    return [
        RawRecord(v, file, win.line + win.data.count(b"\n", 0, s))
        for v, s in zip(values, starts, strict=True)
    ]


def expand(stream: PieceStream, file: str, ahead: int) -> tuple[list[Row], int]:
    """Consume pieces as ``convert`` does: up to ``ahead`` pieces are handed out before the
    oldest is looked at; a wrong window is rolled back and what came after it dropped."""
    out: list[RawRecord] = []
    pending: list[Any] = []
    rollbacks = 0
    while True:
        piece = next(stream, None)
        if piece is not None:
            pending.append(piece)
            if len(pending) <= ahead:
                continue
        if not pending:
            return _rows(out), rollbacks
        first = pending.pop(0)
        if type(first) is Window:
            recs = _window_records(first, file)
            if recs is None:
                stream.rollback(first)
                rollbacks += 1
                pending.clear()
                continue
            stream.settle(first)
            out.extend(recs)
        elif type(first) is Lines:
            out.extend(lines_records(first.data, file, first.line, LIMIT, True))
        else:
            assert type(first) is Records
            out.extend(first.records)


def _array(data: bytes, chunk: int) -> JsonArraySplitter:
    return JsonArraySplitter(io.BytesIO(data), "a.json", max_record_bytes=LIMIT, chunk_size=chunk)


def _outcome(fn: Any) -> Any:
    try:
        return fn()
    except Exception as exc:  # a whole-file error must be the same too
        return ("raised", type(exc).__name__, str(exc))


def _objects(n: int) -> list[dict[str, Any]]:
    # the separators of an indented array also occur inside these values (strings, nested lists)
    return [
        {"i": i, "text": f"第{i}条 }},\n  {{", "turns": [{"a": i}, {"b": [i, {"c": "}"}]}]}
        for i in range(n)
    ]


_DAMAGE = [b",", b"}", b"{", b'"', b"]", b"[", b"\n", b"\x00", b"\xc3\xa9", b"\\u0001", b" "]


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(0, 80),
    indent=st.sampled_from([None, 1, 2]),
    damage=st.lists(st.tuples(st.floats(0, 1), st.sampled_from([*_DAMAGE, b""])), max_size=3),
    chunk=st.sampled_from([64, 1 << 20]),
    window=st.sampled_from([700, 2000, 1 << 18]),
    ahead=st.sampled_from([0, 1, 4]),
)
def test_array_pieces_give_the_records(
    n: int,
    indent: int | None,
    damage: list[tuple[float, bytes]],
    chunk: int,
    window: int,
    ahead: int,
) -> None:
    data = json.dumps(_objects(n), ensure_ascii=False, indent=indent).encode("utf-8")
    for where, what in damage:  # insert a byte string, or (b"") delete a byte
        at = int(where * len(data))
        data = data[:at] + what + data[at + (0 if what else 1) :]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(jsonarray, "_BATCH_BYTES", window)
        want = _outcome(lambda: _rows(list(_array(data, chunk).records())))
        got = _outcome(lambda: expand(_array(data, chunk).pieces(), "a.json", ahead)[0])
    assert got == want


def test_a_wrong_window_is_rolled_back_and_read_again() -> None:
    # compact: the separator "}, {" also ends the nested turns, so a guessed window is wrong
    data = json.dumps(_objects(400), ensure_ascii=False).encode("utf-8")
    want = _rows(list(_array(data, 1 << 20).records()))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(jsonarray, "_BATCH_BYTES", 2000)
        got, rollbacks = expand(_array(data, 1 << 20).pieces(), "a.json", ahead=3)
    assert got == want
    assert rollbacks >= 1


def test_a_broken_element_inside_a_window_is_reported_alone() -> None:
    text = json.dumps(_objects(300), ensure_ascii=False, indent=2).encode("utf-8")
    broken = text.replace(b'"i": 150,', b'"i": 150,,')
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(jsonarray, "_BATCH_BYTES", 4000)
        got, rollbacks = expand(_array(broken, 1 << 20).pieces(), "a.json", ahead=2)
    assert got == _rows(list(_array(broken, 1 << 20).records()))
    assert rollbacks == 1
    errors = [err for _, _, err in got if err]
    assert len(errors) == 1 and len(got) == 300
    line = broken[: broken.index(b",,")].count(b"\n") + 1
    assert errors[0].startswith(f"a.json:{line}:")  # type: ignore[union-attr]


def test_pieces_go_on_where_records_stopped() -> None:
    """Format detection reads some records first; the pieces are the rest, nothing twice."""
    data = json.dumps(_objects(500), ensure_ascii=False, indent=2).encode("utf-8")
    want = _rows(list(_array(data, 1 << 20).records()))
    for head in (0, 1, 37, 100, 499, 500):
        splitter = _array(data, 1 << 20)
        records = splitter.records()
        first = [next(records) for _ in range(head)]
        rest, _ = expand(splitter.pieces(), "a.json", ahead=2)
        assert _rows(first) + rest == want


def test_only_plain_inputs_are_guessed() -> None:
    data = json.dumps(_objects(200), ensure_ascii=False, indent=2).encode("utf-8")
    kinds = {type(p).__name__ for p in _array(data, 1 << 20).pieces(speculate=False)}
    assert kinds == {"Records"}
    kinds = {type(p).__name__ for p in _array(data, 1 << 20).pieces()}
    assert "Window" in kinds


# -- JSONL ---------------------------------------------------------------------------------
_lines = st.lists(
    st.sampled_from(
        [
            b'{"q": "\xe9\x97\xae\xe9\xa2\x98", "a": "x"}',
            b'{"q": 1}',
            b"",
            b"   ",
            b'{"q": "broken',
            b"[1, 2]",
            b"1, 2",
            b'{"q": "' + b"x" * 300 + b'"}',
            b'{"t": "\\u0001"}',
            b'{"t": "\xc3\xa9\xc2\xa0"}',
            b"\x00",
        ]
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(
    lines=_lines, eol=st.sampled_from([b"\n", b"\r\n"]), chunk=st.sampled_from([16, 100, 1 << 18])
)
def test_jsonl_pieces_give_the_records(lines: list[bytes], eol: bytes, chunk: int) -> None:
    data = eol.join(lines) + (eol if lines and len(lines) % 2 else b"")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(jsonl, "_CHUNK", chunk)

        def split() -> JsonlSplitter:
            return JsonlSplitter(io.BytesIO(data), "a.jsonl", max_record_bytes=200)

        want = _rows(list(split().records()))
        stream = PieceStream(split().pieces())
        got: list[Row] = []
        for piece in stream:
            if type(piece) is Lines:
                got += _rows(lines_records(piece.data, "a.jsonl", piece.line, 200, True))
            else:
                got += _rows(piece.records)  # type: ignore[union-attr]
    assert got == want


def test_jsonl_pieces_after_some_records() -> None:
    data = b"".join(b'{"q": "%d"}\n' % i for i in range(3000))
    want = _rows(list(JsonlSplitter(io.BytesIO(data), "a", max_record_bytes=LIMIT).records()))
    splitter = JsonlSplitter(io.BytesIO(data), "a", max_record_bytes=LIMIT)
    records = splitter.records()
    got = _rows([next(records) for _ in range(100)])
    for piece in splitter.pieces():
        if type(piece) is Lines:
            got += _rows(lines_records(piece.data, "a", piece.line, LIMIT, True))
        else:
            got += _rows(piece.records)  # type: ignore[union-attr]
    assert got == want
