"""MinHash signatures in a forked child after the parent used rensa's thread pool: the child must
not wait forever for pool threads that fork did not copy (a pipeline worker hung this way)."""

from __future__ import annotations

import multiprocessing

import numpy as np

from sftforge.ops.dedup.minhash import signatures


def _rows(n: int, width: int = 20) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    flat = rng.integers(0, 2**63, size=n * width, dtype=np.uint64)
    # uneven rows, so batch boundaries fall inside different row lengths
    cuts = np.sort(rng.choice(np.arange(1, n * width), size=n - 1, replace=False))
    offsets = np.concatenate([[0], cuts, [n * width]]).astype(np.uint64)
    return flat, offsets


def _child(conn: object) -> None:
    flat, offsets = _rows(1000)
    conn.send(signatures(flat, offsets, 64))  # type: ignore[attr-defined]


def test_forked_child_computes_the_same_signatures_without_hanging() -> None:
    flat, offsets = _rows(1000)
    expected = signatures(flat, offsets, 64)  # starts rensa's pool in this process
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_child, args=(child,))
    proc.start()
    try:
        assert parent.poll(60), "the forked child hung computing signatures"
        got = parent.recv()
    finally:
        proc.kill()
        proc.join()
    assert np.array_equal(got, expected)
