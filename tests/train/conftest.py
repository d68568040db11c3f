"""Session fixtures for the training tests: tiny random models (built here, never downloaded) and
a small memorisable chat set, Chinese and English."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from train_fixtures import chat_rows, write_rows

from tiny_models import build_tiny_model


@pytest.fixture(scope="session")
def llama_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("llama"), "llama")


@pytest.fixture(scope="session")
def qwen2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("qwen2"), "qwen2")


@pytest.fixture(scope="session")
def chat_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_rows(tmp_path_factory.mktemp("data") / "chat.jsonl", chat_rows())


@pytest.fixture(autouse=True)
def one_torch_thread() -> Any:
    """One intra-op thread: the tiny models' matrices are too small to share, and on a busy
    machine the threads' hand-offs cost more than the work."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
