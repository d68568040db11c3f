"""Fixtures for the pipeline tests: a messy canonical JSONL input and a recipe writer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pipeline_testops
import pytest
import yaml
from pipeline_helpers import make_samples


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("SFTFORGE_CACHE", str(cache))
    pipeline_testops.STATS_CALLS.clear()
    return cache


@pytest.fixture
def raw_file(tmp_path: Path) -> Path:
    """60 samples in canonical JSONL with one broken line after the 10th."""
    path = tmp_path / "raw.jsonl"
    lines = [s.to_json() for s in make_samples(60)]
    lines.insert(10, b'{"messages": [broken')
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


STEPS: list[Any] = [
    {"t_strip": {"targets": "all"}},
    {"t_minlen": {"min_chars": 1}},
    "t_dedup",
    {"t_strip": {"suffix": "!", "targets": "assistant"}},
]


@pytest.fixture
def write_recipe(tmp_path: Path, raw_file: Path) -> Callable[..., Path]:
    def write(steps: list[Any] | None = None, **extra: Any) -> Path:
        recipe = {
            "plugins": ["pipeline_testops"],
            "chunk_size": 8,
            "inputs": [{"path": raw_file.name, "name": "raw"}],
            "steps": STEPS if steps is None else steps,
            "outputs": {"train": {"format": "sftforge", "path": "train.jsonl"}},
        } | extra
        path = tmp_path / "recipe.yaml"
        path.write_text(
            yaml.safe_dump(recipe, allow_unicode=True, sort_keys=False), encoding="utf-8"
        )
        return path

    return write
