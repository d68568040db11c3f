"""Fixtures for the studio's API tests: an app in a temporary home, a TestClient on it, and a
helper that imports rows into a fresh dataset (jobs are run in the test's thread, so nothing
waits on the worker)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi")

from fastapi import FastAPI
from fastapi.testclient import TestClient

from sftforge.studio.app import create_app
from sftforge.studio.settings import StudioSettings


@pytest.fixture
def studio_home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def studio_app(studio_home: Path) -> FastAPI:
    return create_app(StudioSettings(home=studio_home, open_browser=False), run_jobs=False)


@pytest.fixture
def client(studio_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(studio_app, raise_server_exceptions=False) as c:
        yield c
