"""A Ray that sftforge starts itself (no ``--address``) runs its workers at nice 0: Ray's own
default, 15, starves them on a machine shared with other work (the bench saw 2 % CPU each)."""

from __future__ import annotations

import os

import pytest

from sftforge.pipeline.ray_pool import connect

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_a_ray_started_here_runs_its_workers_at_nice_0() -> None:
    assert not ray.is_initialized()  # each Ray test module stops the Ray it started
    assert connect(None, 1)  # this call started Ray
    try:
        # a lambda travels by value (a function of this module would be imported by name)
        assert ray.get(ray.remote(lambda: os.nice(0)).remote()) == 0
        assert not connect(None, 1)  # a process already connected is left as it is
    finally:
        ray.shutdown()
