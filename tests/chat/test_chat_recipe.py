"""The `tokenize` step is found by the recipe loader like every other operator."""

from __future__ import annotations

from pathlib import Path

from chat_fixtures import CONVERSATIONS

from sftforge.ops.base import OPS, build_op
from sftforge.pipeline.recipe import load_ops


def test_load_ops_registers_tokenize(bpe_dir: Path) -> None:
    load_ops()
    assert OPS["tokenize"].__module__ == "sftforge.chat.step"
    op = build_op("tokenize", {"tokenizer": str(bpe_dir), "template": "chatml", "train_on": "last"})
    kept, rejects = op.apply([CONVERSATIONS["multi_cjk"]])  # type: ignore[attr-defined]
    assert rejects == []
    labels = kept[0].meta["tokens"]["labels"]
    assert kept[0].meta["stats"]["tokens"]["n_trained"] == sum(1 for x in labels if x != -100) > 0
