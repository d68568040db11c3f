"""Operator base classes: ``Mapper``, ``Filter`` and ``GlobalOp``, and the registry.

An operator is a dataclass whose options are keyword-only fields with defaults, so the same object
is built from YAML, the CLI, the studio and Python. The base classes, not the operators, count
samples in/out, drop reasons and time, and turn every drop into a ``Reject`` record; executors only
call ``Mapper.apply``/``Filter.apply``/``GlobalOp.run`` and never see operator internals.

A ``GlobalOp`` that only drops samples, and decides from a small per-sample summary, can offer
``keys`` (one chunk's samples -> columns of per-sample keys; a pure function of each sample, so an
executor computes it in its workers, in parallel, even fused into the stage before) and
``choose`` (every input's keys -> the drops). Its ``run`` is then the two-pass reference of that
split; an executor may use the split instead and copy kept samples without parsing them.

A dedup reject names its kept twin twice: ``kept_id`` (its id; identical records share a content
id, so that can be the reject's own) and ``kept`` (its ``locator``: the input name and record
number the pipeline put in ``meta``), which tells even identical twins apart. A keyed operator
gives the twin's input position (``Drop.kept_index``); whoever runs it turns that into the locator.

Filters compute their metric first (``stats``) and store it under ``sample.meta["stats"]``; the
decision (``decide``) reads only the stored value, so changing a threshold never recomputes it.
A stored metric is only valid for the content it was computed from: next to it, under
``sample.meta["stats_fp"]``, goes the sample's ``content_fingerprint`` at that time, and a filter
reuses a stored value only when the fingerprint still matches (a mapper in between, an earlier
stage or an input file carrying old metrics all lead to a recomputation). ``MetricMemo`` lets
the filters of one batch share the fingerprints and offers metrics known from elsewhere (the
cross-run cache) by (metric key, fingerprint).
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain, compress
from typing import Any, ClassVar, overload

import orjson
import xxhash

from ..errors import RecipeError
from ..sample import Message, Sample
from .options import check_options

__all__ = [
    "FINGERPRINTS",
    "KEY_BATCH",
    "LOCATOR_KEYS",
    "OPS",
    "RAGGED",
    "Drop",
    "DropTable",
    "Fetch",
    "Filter",
    "GlobalOp",
    "Keys",
    "Mapper",
    "MetricMemo",
    "Op",
    "OpCounters",
    "Reject",
    "Targets",
    "build_op",
    "concat_keys",
    "content_fingerprint",
    "locator",
    "ragged_select",
    "register_op",
    "select_messages",
]

# roles, or "all" / "last_turn" (the final user turn and the answer to it)
Targets = str | Sequence[str]
# a keyed GlobalOp's per-sample keys: column name -> a list or numpy array (first axis = samples)
Keys = dict[str, Any]
# ascending input positions -> those samples, in that order (a keyed op's second look)
Fetch = Callable[[Sequence[int]], Iterator[Sample]]
RAGGED = "@values"  # a key column with many values per row (see ``concat_keys``)
KEY_BATCH = 2048  # samples per ``keys`` call when ``GlobalOp.run`` computes the keys itself
# meta key: {metric key: the content fingerprint the metric in meta["stats"] was computed from}.
# Internal bookkeeping: it travels between stages and is left out of the run's outputs and rejects.
FINGERPRINTS = "stats_fp"
_UNKNOWN = object()
# meta keys that say where a sample was read: the recipe input's name and the record number in it
# (set by the pipeline: ``sftforge.pipeline.run.INPUT_KEY`` and ``ROW_KEY``)
LOCATOR_KEYS = ("source", "row")


def locator(sample: Sample) -> dict[str, Any] | None:
    """Where a sample was read, ``{"source": input name, "row": record number}`` (the parts its
    meta has), or ``None``: how a dedup reject points at its kept twin."""
    meta = sample.meta
    found = {k: meta[k] for k in LOCATOR_KEYS if meta.get(k) is not None}
    return found or None


def content_fingerprint(sample: Sample) -> int:
    """xxh3-64 of everything a filter may read: every message (role, content, reasoning, tool
    calls...), tools, the ``rejected`` answer, label and media; not the id, not ``meta``.

    The whole conversation rather than one filter's targets: filters read different parts
    (roles, reasoning, tool calls, the whole sample), and one fingerprint serves every filter
    until a mapper runs. A change anywhere only costs a recomputation."""
    parts: list[Any] = []
    for m in sample.messages:
        if m.is_plain():
            parts.append(m.role)
            parts.append(m.content)
        else:  # a dict, never taken for a (role, content) pair of strings
            parts.append(m.to_dict())
    if (
        sample.tools is not None
        or sample.rejected is not None
        or sample.label is not None
        or sample.media is not None
    ):
        rest = sample.to_dict(with_meta=False)
        del rest["id"], rest["messages"]
        parts.append(rest)
    return xxhash.xxh3_64_intdigest(orjson.dumps(parts))


class MetricMemo:
    """What the filters of one batch of samples share (a worker's chunk, through one stage).

    ``fingerprint`` computes a sample's ``content_fingerprint`` once; call ``changed`` after
    anything may have edited the samples (a mapper). Entries are keyed by ``id(sample)``, so the
    samples must stay alive while the memo is in use.

    ``stamp``: the metric keys stored with their fingerprint (``None``: all), i.e. those another
    filter with the same key may find later; a metric with another key is stored without one
    (never reused, and a fingerprint is only computed when some metric needs it). ``cached``:
    the cross-run cache is in use; ``known`` holds its metrics (metric key -> content
    fingerprint -> value), and ``computed`` collects those computed here, to be saved there.
    """

    __slots__ = ("_fps", "cached", "computed", "known", "stamp")

    def __init__(
        self,
        known: dict[str, dict[int, Any]] | None = None,
        *,
        stamp: frozenset[str] | None = None,
        cached: bool = False,
    ) -> None:
        self._fps: dict[int, int] = {}
        self.known: dict[str, dict[int, Any]] = known or {}
        self.stamp = stamp
        self.cached = cached or bool(self.known)
        self.computed: dict[str, dict[int, Any]] = {}

    def fingerprint(self, sample: Sample) -> int:
        fp = self._fps.get(id(sample))
        if fp is None:
            fp = self._fps[id(sample)] = content_fingerprint(sample)
        return fp

    def changed(self) -> None:
        self._fps.clear()


@dataclass(slots=True)
class Reject:
    """Why one sample was dropped, as written to ``rejects.jsonl``."""

    sample: Sample
    op: str
    reason: str
    value: Any = None
    kept_id: str | None = None
    kept: dict[str, Any] | None = None  # the kept twin's ``locator`` (dedup)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"op": self.op, "reason": self.reason}
        if self.value is not None:
            out["value"] = self.value
        if self.kept_id is not None:
            out["kept_id"] = self.kept_id
        if self.kept is not None:
            out["kept"] = self.kept
        sample = self.sample.to_dict()
        meta = sample.get("meta")
        if meta and FINGERPRINTS in meta:
            sample["meta"] = {k: v for k, v in meta.items() if k != FINGERPRINTS}
        out["sample"] = sample
        return out


@dataclass(slots=True)
class Drop:
    """A keyed ``GlobalOp``'s verdict on one sample: its input position and the reject fields;
    ``kept_index`` is the input position of the kept twin (a dedup's), if any; with
    ``kept_id`` left ``None`` the caller names the twin by the id of the sample at
    ``kept_index`` (so an operator need not hold every id)."""

    index: int
    reason: str
    value: Any = None
    kept_id: str | None = None
    kept_index: int | None = None


class DropTable(Sequence[Drop]):
    """``Drop``s as numpy columns (a dedup's millions of them without a Python object each):
    ascending ``positions``, ``reason`` codes into ``reasons``, ``value`` and ``kept_positions`` (-1: no
    twin); the twin's id is left to the caller. Reads as a sequence of ``Drop``.

    Each column is an array or a ``Column`` (``ops/dedup/spill.py``: in a file past a memory
    budget); ``blocks`` reads them a block of drops at a time, which is how the executor reads
    them, while the column attributes read a column whole."""

    def __init__(
        self,
        index: Any,
        reason: Any,
        reasons: Sequence[str],
        value: Any,
        kept_index: Any,
    ) -> None:
        import numpy as np

        from .dedup.spill import Column

        def column(v: Any, dtype: Any) -> Column:
            return v if isinstance(v, Column) else Column(np.asarray(v, dtype=dtype))

        self.reasons = tuple(reasons)
        self.columns = (
            column(index, np.int64),
            column(reason, np.int8),
            column(value, np.float64),
            column(kept_index, np.int64),
        )

    @property
    def positions(self) -> Any:
        return self.columns[0].whole().astype("int64", copy=False)

    @property
    def reason(self) -> Any:
        return self.columns[1].whole().astype("int8", copy=False)

    @property
    def value(self) -> Any:
        return self.columns[2].whole().astype("float64", copy=False)

    @property
    def kept_positions(self) -> Any:
        return self.columns[3].whole().astype("int64", copy=False)

    def blocks(self, rows: int | None = None) -> Iterator[tuple[int, Any, Any, Any, Any]]:
        """(first drop, positions, reason codes, values, kept positions) a block at a time."""
        from .dedup import spill

        step = rows or spill.BLOCK_ROWS
        pos, reason, value, kept = self.columns
        for lo in range(0, len(self), step):
            hi = lo + step
            yield (
                lo,
                pos.block(lo, hi),
                reason.block(lo, hi),
                value.block(lo, hi),
                kept.block(lo, hi),
            )

    def __len__(self) -> int:
        return len(self.columns[0])

    def __iter__(self) -> Iterator[Drop]:
        # a block at a time: ``drop(k)`` reads a row of each column, four reads a drop when the
        # columns are files (``GlobalOp.run`` iterates every drop)
        for _, pos, reason, value, twin in self.blocks():
            rows = zip(pos.tolist(), reason.tolist(), value.tolist(), twin.tolist(), strict=True)
            for p, r, v, t in rows:
                yield Drop(p, self.reasons[r], v, None, t if t >= 0 else None)

    def drop(self, k: int) -> Drop:
        pos, reason, value, twin = (c.block(k, k + 1)[0] for c in self.columns)
        return Drop(
            int(pos),
            self.reasons[int(reason)],
            float(value),
            None,
            int(twin) if twin >= 0 else None,
        )

    @overload
    def __getitem__(self, k: int) -> Drop: ...
    @overload
    def __getitem__(self, k: slice) -> list[Drop]: ...
    def __getitem__(self, k: int | slice) -> Drop | list[Drop]:
        if isinstance(k, slice):
            return [self.drop(i) for i in range(len(self))[k]]
        return self.drop(range(len(self))[k])


def ragged_select(values: Any, sizes: Any, select: Any) -> Any:
    """The values of the selected rows of a ragged column (row ``i`` has ``sizes[i]`` values)."""
    import numpy as np

    return values[np.repeat(np.asarray(select, dtype=bool), np.asarray(sizes))]


def concat_keys(parts: Sequence[Keys], select: Any = None) -> Keys:
    """Join per-chunk key columns in order; ``select`` (one truth value per row: a list of
    bools, a bytearray of 0/1, a boolean array) keeps some rows only. A column named
    ``name + RAGGED`` holds a variable number of values per row, ``name`` their counts."""
    out: Keys = {}
    for name in parts[0] if parts else ():
        if name.endswith(RAGGED):
            import numpy as np

            values = np.concatenate([p[name] for p in parts])
            sizes = np.concatenate([p[name[: -len(RAGGED)]] for p in parts])
            out[name] = values if select is None else ragged_select(values, sizes, select)
            continue
        cols = [p[name] for p in parts]
        if isinstance(cols[0], list):
            flat = list(chain.from_iterable(cols))
            out[name] = flat if select is None else list(compress(flat, select))
        else:
            import numpy as np

            col = np.concatenate(cols)
            out[name] = col if select is None else col[np.asarray(select, dtype=bool)]
    return out


@dataclass(slots=True)
class OpCounters:
    """What one operator did: in/out counts, drops by reason, seconds spent, extra counters."""

    seen: int = 0
    kept: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    extra: Counter[str] = field(default_factory=Counter)

    def merge(self, other: OpCounters) -> None:
        self.seen += other.seen
        self.kept += other.kept
        self.dropped.update(other.dropped)
        self.seconds += other.seconds
        self.extra.update(other.extra)

    def to_dict(self) -> dict[str, Any]:
        return {
            "seen": self.seen,
            "kept": self.kept,
            "dropped": dict(self.dropped),
            "seconds": round(self.seconds, 6),
            "extra": dict(self.extra),
        }


OPS: dict[str, type[Op]] = {}


def register_op(name: str) -> Callable[[type[Op]], type[Op]]:
    """Class decorator: make an operator buildable by ``name`` from recipes and the CLI."""

    def deco(cls: type[Op]) -> type[Op]:
        if name in OPS and OPS[name] is not cls:
            raise ValueError(f"operator name '{name}' is registered twice")
        cls.name = name
        OPS[name] = cls
        return cls

    return deco


def build_op(name: str, options: dict[str, Any] | None = None) -> Op:
    """Build a registered operator, failing with the valid names when ``name`` or an option is unknown."""
    cls = OPS.get(name)
    if cls is None:
        raise RecipeError(
            f"unknown operator '{name}'.",
            hint=f"{_did_you_mean(name, OPS)}use one of: {', '.join(sorted(OPS))}",
        )
    options = dict(options or {})
    valid = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(options) - valid)
    if unknown:
        raise RecipeError(
            f"operator '{name}' has no option {', '.join(repr(u) for u in unknown)}.",
            hint=f"{_did_you_mean(unknown[0], valid)}valid options for '{name}': "
            f"{', '.join(sorted(valid)) or '(none)'}",
        )
    check_options(cls, options, f"operator '{name}'")
    try:
        return cls(**options)
    except (TypeError, ValueError, re.error) as exc:
        raise RecipeError(
            f"operator '{name}': {exc}.",
            hint=f"change the option of '{name}' that the message names (regular expressions "
            "use Python re syntax)",
        ) from exc


def _did_you_mean(name: str, names: Iterable[str]) -> str:
    import difflib

    close = difflib.get_close_matches(str(name), sorted(names), n=1, cutoff=0.75)
    return f"did you mean '{close[0]}'? " if close else ""


def select_messages(sample: Sample, targets: Targets) -> list[Message]:
    """The messages an operator reads and edits, by role names, ``all`` or ``last_turn``."""
    names = [targets] if isinstance(targets, str) else list(targets)
    if "all" in names:
        return list(sample.messages)
    chosen: list[Message] = []
    if "last_turn" in names:
        last_user = max(
            (i for i, m in enumerate(sample.messages) if m.role == "user"), default=None
        )
        if last_user is not None:
            chosen.extend(sample.messages[last_user:])
    roles = set(names) - {"last_turn"}
    for m in sample.messages:
        if m.role in roles and not any(m is c for c in chosen):
            chosen.append(m)
    return chosen


@dataclass(kw_only=True)
class Op:
    """Common base. Subclasses are dataclasses whose fields are their options."""

    name: ClassVar[str] = "op"
    # (import name, extra) pairs imported lazily by the operator; listed for docs and checks
    requires: ClassVar[tuple[tuple[str, str], ...]] = ()

    def __post_init__(self) -> None:
        self.counters = OpCounters()

    def options(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}


@dataclass(kw_only=True)
class Mapper(Op):
    """Changes samples one at a time; never drops one (a mapper that must drop is a Filter)."""

    targets: Targets = "all"

    def map(self, sample: Sample) -> Sample:  # pragma: no cover - abstract
        raise NotImplementedError

    def apply(self, samples: Iterable[Sample]) -> list[Sample]:
        start = time.perf_counter()
        out = [self.map(s) for s in samples]
        self.counters.seen += len(out)
        self.counters.kept += len(out)
        self.counters.seconds += time.perf_counter() - start
        return out


@dataclass(kw_only=True)
class Filter(Op):
    """Keeps or drops samples. ``stats`` computes the metric once; ``decide`` only compares it.

    ``stats_key`` names the metric in ``sample.meta["stats"]``; a sample that already carries it,
    computed from its current content (``meta["stats_fp"]``), is not recomputed.
    """

    targets: Targets = "all"
    stats_key: ClassVar[str] = ""

    def stats(self, sample: Sample) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def decide(self, value: Any, sample: Sample) -> bool | tuple[bool, str]:  # pragma: no cover
        raise NotImplementedError

    def metric_key(self) -> str:
        """Where the metric is cached; includes targets so different views never collide."""
        key = self.stats_key or self.name
        tg = self.targets if isinstance(self.targets, str) else "+".join(self.targets)
        return key if tg == "all" else f"{key}@{tg}"

    def metric(self, sample: Sample, memo: MetricMemo | None = None) -> Any:
        """The metric of the sample as it is now: the stored one when it was computed from this
        content (its fingerprint matches), else one ``memo`` knows, else ``stats``. Stored in
        ``meta["stats"]``, with its fingerprint unless ``memo`` says none will be needed."""
        meta = sample.meta
        stats = meta.setdefault("stats", {})
        key = self.metric_key()
        fps: dict[str, int] | None = meta.get(FINGERPRINTS)
        old = None if fps is None else fps.get(key)
        stamp = memo is None or memo.stamp is None or key in memo.stamp
        cached = memo is not None and memo.cached
        if old is None and not stamp and not cached:  # nothing to check or keep: just measure
            value = stats[key] = self.stats(sample)
            return value
        fp = content_fingerprint(sample) if memo is None else memo.fingerprint(sample)
        if old == fp and key in stats:
            return stats[key]
        if memo is not None and cached:
            known = memo.known.get(key)
            value = _UNKNOWN if known is None else known.get(fp, _UNKNOWN)
            if value is _UNKNOWN:
                value = self.stats(sample)
                memo.computed.setdefault(key, {})[fp] = value
        else:
            value = self.stats(sample)
        stats[key] = value
        if stamp:
            if fps is None:
                fps = meta[FINGERPRINTS] = {}
            fps[key] = fp
        elif fps is not None and old is not None:  # the old stamp must not vouch for the new value
            del fps[key]
            if not fps:
                del meta[FINGERPRINTS]
        return value

    def keep(self, sample: Sample, memo: MetricMemo | None = None) -> bool | tuple[bool, str]:
        return self.decide(self.metric(sample, memo), sample)

    def apply(
        self, samples: Iterable[Sample], memo: MetricMemo | None = None
    ) -> tuple[list[Sample], list[Reject]]:
        """Keep or drop each sample; ``memo`` shares fingerprints and known metrics."""
        start = time.perf_counter()
        kept: list[Sample] = []
        rejects: list[Reject] = []
        key = self.metric_key()
        # ``metric``'s first branch, taken here without its per-sample calls: a memo that keeps
        # no fingerprint of this key and knows no cached metric leaves only "measure, store" for
        # every sample that carries no stamp of it (a pipeline chunk's usual case)
        direct = (
            memo is not None
            and memo.stamp is not None
            and key not in memo.stamp
            and not memo.cached
            and type(self).metric is Filter.metric
            and type(self).keep is Filter.keep
        )
        measure, decide = self.stats, self.decide
        for s in samples:
            meta = s.meta
            fps = meta.get(FINGERPRINTS) if direct else None
            if direct and (fps is None or key not in fps):
                value = meta.setdefault("stats", {})[key] = measure(s)
                verdict = decide(value, s)
            else:
                verdict = self.keep(s, memo)
            if verdict is True:
                kept.append(s)
                continue
            ok, reason = (verdict, self.name) if isinstance(verdict, bool) else verdict
            if ok:
                kept.append(s)
            else:
                self.counters.dropped[reason] += 1
                rejects.append(Reject(s, self.name, reason, meta.get("stats", {}).get(key)))
        self.counters.seen += len(kept) + len(rejects)  # every sample is one or the other
        self.counters.kept += len(kept)
        self.counters.seconds += time.perf_counter() - start
        return kept, rejects


@dataclass(kw_only=True)
class GlobalOp(Op):
    """Whole-dataset work (dedup, split, mix, sampling): may read its input twice.

    ``run`` gets ``source``, a callable returning a fresh iterator over the (spilled) input each
    time it is called, and ``reject``, to be called once for every sample the op drops. It yields
    the samples it keeps, in a deterministic order that does not depend on the executor.

    Keyed operators (dedup) implement ``keys`` and ``choose`` instead of ``run``; doing so
    declares that the op only drops samples: the kept ones go through unchanged, in input order.
    """

    def run(
        self,
        source: Callable[[], Iterator[Sample]],
        reject: Callable[[Reject], None],
    ) -> Iterator[Sample]:
        if not self.keyed():  # pragma: no cover - abstract
            raise NotImplementedError
        parts: list[Keys] = []
        batch: list[Sample] = []
        places: list[dict[str, Any] | None] = []  # every input's locator, for the kept twins
        ids: list[str] = []  # and its id (``Drop.kept_id`` may leave it to us)
        for s in source():
            batch.append(s)
            places.append(locator(s))
            ids.append(s.id)
            if len(batch) >= KEY_BATCH:
                parts.append(self.keys(batch, {}))
                batch = []
        parts.append(self.keys(batch, {}))

        def fetch(indices: Sequence[int]) -> Iterator[Sample]:
            want = iter(indices)
            nxt = next(want, None)
            for i, s in enumerate(source()):
                if nxt is None:
                    return
                if i == nxt:
                    yield s
                    nxt = next(want, None)

        drops = iter(self.choose(concat_keys(parts), fetch))
        d = next(drops, None)
        for i, s in enumerate(source()):
            self.counters.seen += 1
            if d is not None and d.index == i:
                kept = None if d.kept_index is None else places[d.kept_index]
                kept_id = d.kept_id
                if kept_id is None and d.kept_index is not None:
                    kept_id = ids[d.kept_index]
                self.drop(reject, Reject(s, self.name, d.reason, d.value, kept_id, kept))
                d = next(drops, None)
            else:
                self.counters.kept += 1
                yield s

    @classmethod
    def keyed(cls) -> bool:
        """Whether the op offers the ``keys``/``choose`` split (and so only drops samples); an
        op that overrides ``run`` as well is run through its ``run``."""
        return (
            cls.keys is not GlobalOp.keys
            and cls.choose is not GlobalOp.choose
            and cls.run is GlobalOp.run
        )

    def keys(self, samples: Sequence[Sample], memo: dict[Any, Any]) -> Keys:
        """Per-sample keys of a run of input samples: ``{column: list or array}``, one row per
        sample, each row a function of that sample alone (so chunking and workers never change
        it). ``memo`` is shared by the ``keys`` calls over the same ``samples``, so operators can
        share work (dedup's normalised tokens)."""
        raise NotImplementedError

    def choose(self, keys: Keys, fetch: Fetch) -> Sequence[Drop]:
        """Decide from the keys of the whole input (in input order) which samples to drop:
        ``Drop``s in ascending position order (a list, or a compact ``DropTable``). ``fetch(positions)`` yields the samples at some
        ascending positions, for a second look at a few of them. Sets ``counters.extra``."""
        raise NotImplementedError

    def drop(self, reject: Callable[[Reject], None], rej: Reject) -> None:
        """Count and forward a drop; subclasses call this instead of ``reject`` directly."""
        self.counters.dropped[rej.reason] += 1
        reject(rej)
