"""Session fixtures for the training tests: tiny random models (built here, never downloaded) and
a small memorisable chat set, Chinese and English."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tiny_models import build_tiny_model

# every linear layer and the output head: a tiny random model's head is too small (init std 0.02,
# hidden 32) for LoRA on the decoder alone to move the logits far, so the test adapts it too
TINY_TARGETS = [
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
    "lm_head",
]


def chat_rows(n: int = 12) -> list[dict[str, object]]:
    return [
        {
            "messages": [
                {
                    "role": "user",
                    "content": f"What is {a} plus {a}?" if a % 2 else f"{a}加{a}等于几？",
                },
                {"role": "assistant", "content": f"It is {2 * a}." if a % 2 else f"等于{2 * a}。"},
            ]
        }
        for a in range(n)
    ]


def write_rows(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return path


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
