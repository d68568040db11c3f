"""Page, sort, filter, search and histogram one version, without loading it whole.

A version's browse columns are a memory-mapped Arrow file (``<id>.browse.arrow``); a request
touches the columns it filters and sorts on and the page's rows. Sort orders are cached per
(version, column, direction) and search matches per (version, text), so the next page, or a sort
after a search, costs only the page. The browser gets at most ``limit`` rows, never a dataset.

Search is a substring match of the lower-cased text over the whole conversation (``search``
column): Chinese works, as there is no word splitting to get wrong.
"""

from __future__ import annotations

import bisect
import mmap
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .errors import ApiError
from .versions import BROWSE_SCHEMA, browse_path

__all__ = [
    "COLUMNS",
    "NUMERIC",
    "PAGE_COLUMNS",
    "Filter",
    "VersionView",
    "find_row",
    "histogram",
    "page",
    "parse_filter",
    "view_of",
    "warm_up",
]

COLUMNS = tuple(f.name for f in BROWSE_SCHEMA)
NUMERIC = tuple(
    f.name
    for f in BROWSE_SCHEMA
    if pa.types.is_integer(f.type) or pa.types.is_floating(f.type) or pa.types.is_boolean(f.type)
)
SORTABLE = tuple(
    f.name for f in BROWSE_SCHEMA if f.name not in ("search", "tags", "prompt", "sample")
)
# what a page row carries (not the whole-text ``search`` column)
PAGE_COLUMNS = tuple(c for c in COLUMNS if c not in ("search", "prompt"))
_OPS = ("eq", "ne", "lt", "le", "gt", "ge", "has", "null", "notnull")
_CACHE_VIEWS = 4
_CACHE_SEARCHES = 16
# integer and boolean columns: their first rows in sorted order can be found without sorting all
# (``VersionView.first_sorted``), up to this many rows from the top
_INTEGER = tuple(
    f.name for f in BROWSE_SCHEMA if pa.types.is_integer(f.type) or pa.types.is_boolean(f.type)
)
_FIRST_SORTED_MAX = 10_000


@dataclass(frozen=True)
class Filter:
    """``column op value``: ``chars:ge:100``, ``status:eq:rejected``, ``tags:has:math``,
    ``model:notnull``."""

    column: str
    op: str
    value: str | None = None


def parse_filter(text: str) -> Filter:
    column, _, rest = text.partition(":")
    op, _, value = rest.partition(":")
    if column not in COLUMNS or column == "search":
        raise ApiError(
            422,
            "invalid",
            f"cannot filter on '{column}'",
            "filter",
            f"use one of: {', '.join(PAGE_COLUMNS)}",
        )
    if op not in _OPS:
        raise ApiError(
            422,
            "invalid",
            f"unknown filter operator '{op}'",
            "filter",
            f"use one of: {', '.join(_OPS)}",
        )
    if op not in ("null", "notnull") and not value and op != "eq":
        raise ApiError(
            422, "invalid", f"filter '{text}' has no value", "filter", "write it as column:op:value"
        )
    return Filter(column, op, value if op not in ("null", "notnull") else None)


class VersionView:
    """One version's browse table and its caches (sort orders, search matches)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        file = browse_path(path)
        self._source = pa.memory_map(str(file), "r")
        self.table = pa.ipc.open_file(self._source).read_all()  # zero-copy over the map
        self.rows = self.table.num_rows
        # the same file mapped for Python's own substring search (mmap.find), and where the
        # Arrow map starts, to turn a buffer's address into a file position
        with open(file, "rb") as fh:
            self._mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        self._base = _map_base(self._source)
        self._batches: tuple[list[pa.RecordBatch], list[int]] | None = None
        self._numbers: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._ints: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._tops: dict[tuple[str, bool], np.ndarray] = {}
        self._sorts: dict[tuple[str, bool], np.ndarray] = {}
        self._searches: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def order(self, column: str, desc: bool) -> np.ndarray:
        """Row indices sorted by ``column`` (nulls last, ties in row order), cached."""
        key = (column, desc)
        with self._lock:
            cached = self._sorts.get(key)
        if cached is not None:
            return cached
        col = self.table[column]
        idx = pc.sort_indices(
            pa.table({"v": col}), sort_keys=[("v", "descending" if desc else "ascending", "at_end")]
        )
        order = idx.to_numpy()
        with self._lock:
            self._sorts[key] = order
        return order

    def first_sorted(
        self, column: str, desc: bool, mask: np.ndarray | None, k: int
    ) -> np.ndarray | None:
        """The first ``k`` of ``order(column, desc)``'s rows (those in ``mask`` only, when given)
        without sorting them all: the smallest keys are found by a partition (linear), and only
        the rows with a key up to the ``k``-th are sorted, stably, so ties stay in row order and
        nulls come last, as in the full order. A cold sort of a 1M-row column costs ~100 ms of
        CPU; this ~20. Without a mask the first ``_FIRST_SORTED_MAX`` rows are found once and
        cached, so the next pages cost nothing. None where it does not apply (another column
        type, ``k`` too large, or the full order is cached already)."""
        if column not in _INTEGER or k > _FIRST_SORTED_MAX or k <= 0:
            return None
        key = (column, desc)
        with self._lock:
            if key in self._sorts:
                return None
            top = self._tops.get(key) if mask is None else None
        if top is None:
            top = self._first(column, desc, mask, _FIRST_SORTED_MAX if mask is None else k)
            if mask is None:
                with self._lock:
                    self._tops[key] = top
        return top[:k]

    def _first(self, column: str, desc: bool, mask: np.ndarray | None, k: int) -> np.ndarray:
        values, valid = self._integers(column)
        chosen = valid if mask is None else (valid & mask)
        rows: np.ndarray | None = None if mask is None and valid.all() else np.flatnonzero(chosen)
        keys = values if rows is None else values[rows]
        keys = -keys if desc else keys
        if len(keys) > k:
            kth = np.partition(keys, k - 1)[k - 1]
            near = np.flatnonzero(keys <= kth)
            rows, keys = (near if rows is None else rows[near]), keys[near]
        elif rows is None:
            rows = np.arange(len(keys), dtype=np.int64)
        head = rows[np.argsort(keys, kind="stable")][:k]
        if len(head) < k:  # then the nulls, in row order
            nulls = np.flatnonzero(~valid if mask is None else (mask & ~valid))
            head = np.concatenate([head, nulls[: k - len(head)]])
        return head.astype(np.int64, copy=False)

    def _integers(self, column: str) -> tuple[np.ndarray, np.ndarray]:
        """An integer or boolean column as int64 (nulls as 0) and its validity mask, cached."""
        with self._lock:
            got = self._ints.get(column)
        if got is None:
            col = self.table[column]
            if col.null_count == 0:  # the usual case: no validity to compute, nothing to fill
                valid = np.ones(self.rows, dtype=bool)
                filled = col
            else:
                valid = _mask(pc.is_valid(col))
                filled = pc.fill_null(col, False if pa.types.is_boolean(col.type) else 0)
            parts = [c.to_numpy(zero_copy_only=False) for c in filled.chunks]
            values = np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)
            got = (values, valid)
            with self._lock:
                self._ints[column] = got
        return got

    def search(self, text: str) -> np.ndarray:
        """A boolean mask of the rows whose conversation contains ``text`` (case-insensitive)."""
        needle = text.lower()
        with self._lock:
            cached = self._searches.get(needle)
            if cached is not None:
                self._searches.move_to_end(needle)
                return cached
        if needle.isascii():  # Arrow's search is fastest on ASCII
            mask = _mask(pc.match_substring(self.table["search"], needle))
        else:  # and slow on other text, where the C search of mmap.find is several times faster
            mask = self._find_rows(needle.encode("utf-8"))
        with self._lock:
            self._searches[needle] = mask
            while len(self._searches) > _CACHE_SEARCHES:
                self._searches.popitem(last=False)
        return mask

    def numbers(self, column: str) -> tuple[np.ndarray, np.ndarray]:
        """A numeric column as float64 (nulls as 0) and its validity mask, cached."""
        with self._lock:
            got = self._numbers.get(column)
        if got is None:
            col = self.table[column]
            valid = _mask(pc.is_valid(col))
            values = np.asarray(pc.fill_null(col, 0).to_numpy(), dtype=np.float64)
            got = (values, valid)
            with self._lock:
                self._numbers[column] = got
        return got

    def batches(self) -> tuple[list[pa.RecordBatch], list[int]]:
        """The page columns as record batches (zero-copy) and each batch's first row index."""
        if self._batches is None:
            table = self.table.select(list(PAGE_COLUMNS))
            batches = table.to_batches()
            starts = [0]
            for batch in batches:
                starts.append(starts[-1] + batch.num_rows)
            self._batches = (batches, starts)
        return self._batches

    def _find_rows(self, needle: bytes) -> np.ndarray:
        """Rows whose ``search`` text holds ``needle`` (UTF-8 bytes: a byte match of valid UTF-8
        is a character match), found with ``mmap.find`` over each chunk's string data in place;
        a chunk's hits become rows with one vectorised ``searchsorted``."""
        mask = np.zeros(self.rows, dtype=bool)
        find, size = self._mm.find, len(needle)
        first = 0  # the row index of the chunk's first row
        for chunk in self.table["search"].chunks:
            _, offs_buf, data = chunk.buffers()
            n = len(chunk)
            if data is None or n == 0:
                first += n
                continue
            offs = np.frombuffer(offs_buf, dtype=np.int32, count=chunk.offset + n + 1)
            offs = offs[chunk.offset :]
            base = data.address - self._base
            end = base + int(offs[-1])
            if base < 0 or end > len(self._mm):  # not a view of the file (never, uncompressed)
                mask[first : first + n] = _mask(pc.match_substring(chunk, needle.decode("utf-8")))
                first += n
                continue
            # hits are collected one after the other and mapped to rows at once, as long as
            # there are no more of them than rows; past that some row holds the needle many
            # times (a common word), and the search goes on a row at a time: a hit marks its
            # row and the next find starts at the next row. So a chunk costs at most two finds
            # per row. A hit across the border of two rows' texts is no match.
            hits: list[int] = []
            rows: list[int] = []
            pos = find(needle, base + int(offs[0]), end)
            while pos != -1 and len(hits) <= n:
                hits.append(pos)
                pos = find(needle, pos + 1, end)
            if pos != -1:
                bounds = (offs + base).tolist()  # each row's start in the file, then the end
                while pos != -1:
                    row = bisect.bisect_right(bounds, pos) - 1
                    if pos + size <= bounds[row + 1]:
                        rows.append(row)
                        pos = find(needle, bounds[row + 1], end)
                    else:
                        pos = find(needle, pos + 1, end)
            if hits:
                at = np.asarray(hits, dtype=np.int64) - base
                found = np.searchsorted(offs, at, side="right") - 1
                inside = at + size <= offs[found + 1]
                mask[first + found[inside]] = True
            if rows:
                mask[first + np.asarray(rows, dtype=np.int64)] = True
            first += n
        return mask


def _map_base(source: pa.MemoryMappedFile) -> int:
    """The address where the memory-mapped file starts (its buffers point inside it)."""
    source.seek(0)
    return int(source.read_buffer(1).address)


def _mask(values: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A boolean Arrow result as a numpy mask, nulls counting as False."""
    filled = pc.fill_null(values, False)
    if isinstance(filled, pa.ChunkedArray):
        return (
            np.concatenate([c.to_numpy(zero_copy_only=False) for c in filled.chunks])
            if filled.num_chunks
            else np.zeros(0, bool)
        )
    return np.asarray(filled.to_numpy(zero_copy_only=False))


_VIEWS: OrderedDict[str, VersionView] = OrderedDict()
_VIEWS_LOCK = threading.Lock()


def view_of(path: str | Path) -> VersionView:
    """The (cached) view of the version at ``path``; versions are immutable, so a view never
    goes stale."""
    key = str(path)
    with _VIEWS_LOCK:
        view = _VIEWS.get(key)
        if view is not None:
            _VIEWS.move_to_end(key)
            return view
    view = VersionView(Path(path))
    with _VIEWS_LOCK:
        _VIEWS[key] = view
        while len(_VIEWS) > _CACHE_VIEWS:
            _VIEWS.popitem(last=False)
    return view


def _value(column: str, raw: str | None) -> Any:
    typ = BROWSE_SCHEMA.field(column).type
    if raw is None:
        return None
    try:
        if pa.types.is_boolean(typ):
            if raw.lower() not in ("true", "false", "1", "0"):
                raise ValueError(raw)
            return raw.lower() in ("true", "1")
        if pa.types.is_integer(typ):
            return int(raw)
        if pa.types.is_floating(typ):
            return float(raw)
    except ValueError:
        raise ApiError(
            422, "invalid", f"'{raw}' is not a value of column {column}", "filter"
        ) from None
    return raw


def _filter_mask(view: VersionView, f: Filter) -> np.ndarray:
    col = view.table[f.column]
    if f.op == "null":
        return _mask(pc.is_null(col))
    if f.op == "notnull":
        return _mask(pc.is_valid(col))
    if f.op == "has":
        if f.column != "tags":
            raise ApiError(422, "invalid", "the 'has' operator is for the tags column", "filter")
        flat = pc.list_flatten(col)
        parents = pc.list_parent_indices(col).to_numpy()
        hit = _mask(pc.equal(flat, f.value)) if len(flat) else np.zeros(0, bool)
        out = np.zeros(view.rows, bool)
        out[parents[hit]] = True
        return out
    if f.column == "tags":
        raise ApiError(422, "invalid", "filter tags with tags:has:<tag>", "filter")
    value = _value(f.column, f.value)
    fn = {"eq": pc.equal, "ne": pc.not_equal, "lt": pc.less, "le": pc.less_equal,
          "gt": pc.greater, "ge": pc.greater_equal}[f.op]  # fmt: skip
    return _mask(fn(col, pa.scalar(value, BROWSE_SCHEMA.field(f.column).type)))


def selection(view: VersionView, q: str | None, filters: list[Filter]) -> np.ndarray | None:
    """The mask of rows matching the search text and every filter; None when nothing narrows."""
    mask: np.ndarray | None = None
    if q:
        mask = view.search(q)
    for f in filters:
        m = _filter_mask(view, f)
        mask = m if mask is None else (mask & m)
    return mask


def page(
    view: VersionView,
    *,
    offset: int = 0,
    limit: int = 50,
    sort: str | None = None,
    desc: bool = False,
    q: str | None = None,
    filters: list[Filter] | None = None,
) -> dict[str, Any]:
    """One page: ``{"total", "offset", "limit", "rows": [...], "indices": [...]}``; each row has
    the page columns and ``index`` (its position in the version)."""
    if sort is not None and sort not in SORTABLE:
        raise ApiError(
            422, "invalid", f"cannot sort by '{sort}'", "sort", f"use one of: {', '.join(SORTABLE)}"
        )
    mask = selection(view, q, filters or [])
    head = view.first_sorted(sort, desc, mask, offset + limit) if sort is not None else None
    if head is not None:  # the page is near the top: no need to sort every row
        total = view.rows if mask is None else int(np.count_nonzero(mask))
        rows = take(view, head[offset : offset + limit])
        return {"total": total, "offset": offset, "limit": limit, "rows": rows}
    if sort is not None:
        order = view.order(sort, desc)
        chosen = order[mask[order]] if mask is not None else order
    elif mask is not None:
        chosen = np.flatnonzero(mask)
    else:
        chosen = None
    total = view.rows if chosen is None else len(chosen)
    if chosen is None:
        indices = np.arange(min(offset, total), min(offset + limit, total), dtype=np.int64)
    else:
        indices = chosen[offset : offset + limit]
    rows = take(view, indices)
    return {"total": total, "offset": offset, "limit": limit, "rows": rows}


def take(view: VersionView, indices: np.ndarray | list[int]) -> list[dict[str, Any]]:
    """The page columns of the rows at ``indices``, each with its ``index``.

    Each row is a zero-copy one-row slice of its record batch: Arrow's ``take`` on a many-chunk
    table concatenates whole columns first (hundreds of MB for a page of a 1M-row version), and
    ``take`` on each batch allocates every column again for a row or two."""
    batches, starts = view.batches()
    rows: list[dict[str, Any]] = []
    for i in (int(i) for i in indices):
        b = bisect.bisect_right(starts, i) - 1
        row = batches[b].slice(i - starts[b], 1).to_pylist()[0]
        row["index"] = i
        rows.append(row)
    return rows


def warm_up() -> None:
    """Run the Arrow calls a page makes once on a tiny table: pyarrow imports optional modules
    (pandas, when installed) on the first compute call, which would otherwise land on the first
    page someone opens (about a second)."""
    tiny = pa.table({"v": pa.array(["b", "a"])})
    tiny.take(pa.array([1], pa.int64())).to_pylist()
    pc.sort_indices(tiny, sort_keys=[("v", "ascending", "at_end")])
    pc.match_substring(tiny["v"], "a")


def find_row(view: VersionView, row_id: str) -> int | None:
    """The index of ``row_id`` in the version, or None."""
    i = pc.index(view.table["row_id"], pa.scalar(row_id, pa.string())).as_py()
    return None if i is None or i < 0 else int(i)


def histogram(
    view: VersionView,
    column: str,
    *,
    bins: int = 40,
    q: str | None = None,
    filters: list[Filter] | None = None,
) -> dict[str, Any]:
    """Counts of ``column``'s values in ``bins`` equal bins over the selected rows (a filter on
    ``column`` itself is left out, so dragging a range over the strip keeps the whole strip)."""
    if column not in NUMERIC:
        raise ApiError(
            422,
            "invalid",
            f"no histogram for '{column}'",
            "column",
            f"use one of: {', '.join(NUMERIC)}",
        )
    bins = max(1, min(int(bins), 200))
    mask = selection(view, q, [f for f in (filters or []) if f.column != column])
    values, valid = view.numbers(column)
    keep = valid if mask is None else (valid & mask)
    picked = values[keep]
    if picked.size == 0:
        return {
            "column": column,
            "edges": [],
            "counts": [],
            "total": 0,
            "nulls": int((~valid).sum()),
        }
    lo, hi = float(picked.min()), float(picked.max())
    if lo == hi:
        hi = lo + 1
    counts, edges = np.histogram(picked, bins=bins, range=(lo, hi))
    return {
        "column": column,
        "edges": [float(e) for e in edges],
        "counts": [int(c) for c in counts],
        "total": int(picked.size),
        "nulls": int((~valid).sum()) if mask is None else int((~valid & mask).sum()),
    }
