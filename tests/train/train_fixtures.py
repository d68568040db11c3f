"""Helpers shared by the training tests (a uniquely named module: ``conftest`` is a name every
test folder has, so importing from it picks whichever was imported first)."""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["TINY_TARGETS", "chat_rows", "write_rows"]

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
