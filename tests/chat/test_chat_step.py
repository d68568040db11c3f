"""The recipe step `tokenize`: rows stored in meta, failures rejected with their reason."""

from __future__ import annotations

from pathlib import Path

import pytest
from chat_fixtures import CONVERSATIONS

import sftforge.chat.step  # noqa: F401 - registers the step
from sftforge.errors import RecipeError
from sftforge.ops.base import build_op


def test_tokenize_step_keeps_and_rejects(bpe_dir: Path) -> None:
    op = build_op("tokenize", {"tokenizer": str(bpe_dir), "template": "llama2"})
    kept, rejects = op.apply(list(CONVERSATIONS.values()))  # type: ignore[attr-defined]
    assert [s.id for s in kept] == [s.id for name, s in CONVERSATIONS.items() if name != "tools"]
    assert [(r.op, r.reason) for r in rejects] == [("tokenize", "template_error")]
    tokens = kept[0].meta["tokens"]
    assert (
        len(tokens["input_ids"])
        == len(tokens["labels"])
        == kept[0].meta["stats"]["tokens"]["n_tokens"]
    )
    assert op.counters.dropped == {"template_error": 1}


def test_tokenize_step_needs_a_tokenizer() -> None:
    with pytest.raises(RecipeError, match="needs the option 'tokenizer'"):
        build_op("tokenize", {})


def test_tokenize_step_counts_tokens_per_role(bpe_dir: Path) -> None:
    op = build_op("tokenize", {"tokenizer": str(bpe_dir), "template": "chatml"})
    kept, _ = op.apply([CONVERSATIONS["single"]])  # type: ignore[attr-defined]
    stats = kept[0].meta["stats"]["tokens"]
    per_role = {k: v for k, v in stats.items() if k.startswith("tokens_")}
    assert {"tokens_user", "tokens_assistant"} <= set(per_role)
    assert all(v > 0 for v in per_role.values())
    # every token is attributed to one role (template scaffolding included)
    assert sum(per_role.values()) == stats["n_tokens"]
