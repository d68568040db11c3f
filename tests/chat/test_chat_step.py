"""The recipe step `tokenize`: rows stored in meta, failures rejected with their reason."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
import yaml
from chat_fixtures import CONVERSATIONS

import sftforge
import sftforge.chat.step  # registers the step
from sftforge.errors import RecipeError
from sftforge.ops.base import build_op
from sftforge.pipeline import run_recipe
from sftforge.sample import Sample


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


def test_tokenize_step_rerun_with_the_metric_cache(
    bpe_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second run answered from the metric cache still writes every row (it once kept none)."""
    monkeypatch.setenv("SFTFORGE_CACHE", str(tmp_path / "cache"))
    # copies without meta: other tests' op.apply leaves rows in the shared fixtures' meta
    samples = [_fresh(s) for name, s in CONVERSATIONS.items() if name != "tools"]
    src = tmp_path / "in.jsonl"
    sftforge.write(samples, src, "sftforge")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        yaml.safe_dump(
            {
                "inputs": [{"path": src.name, "format": "sftforge"}],
                "steps": [{"tokenize": {"tokenizer": str(bpe_dir), "template": "chatml"}}],
                "outputs": {"train": {"format": "sftforge", "path": "train.jsonl"}},
            }
        ),
        encoding="utf-8",
    )
    outs = []
    for run in ("first", "second"):
        res = run_recipe(recipe, tmp_path / run, workers=1)
        assert res.counts["read"] == len(samples)
        rows = [orjson.loads(x) for x in (tmp_path / run / "train.jsonl").read_bytes().splitlines()]
        assert len(rows) == len(samples)
        assert all(r["meta"]["tokens"]["input_ids"] for r in rows)
        outs.append((tmp_path / run / "train.jsonl").read_bytes())
    assert outs[0] == outs[1]


def test_tokenize_step_ignores_a_stale_row(bpe_dir: Path) -> None:
    """A sample arriving with a row and metric of other content is tokenized as it is now."""
    op = build_op("tokenize", {"tokenizer": str(bpe_dir), "template": "chatml"})
    fresh, _ = op.apply([_fresh(CONVERSATIONS["single"])])  # type: ignore[attr-defined]
    stale = CONVERSATIONS["single"].to_dict(with_meta=False)
    stale["meta"] = {
        "tokens": {"input_ids": [1, 2], "labels": [-100, 2]},
        "stats": {"tokens": {"n_tokens": 2, "n_trained": 1, "truncated": False}},
    }
    kept, _ = op.apply([Sample.from_dict(stale)])  # type: ignore[attr-defined]
    assert kept[0].meta["tokens"] == fresh[0].meta["tokens"]
    assert kept[0].meta["stats"]["tokens"] == fresh[0].meta["stats"]["tokens"]


def _fresh(sample: Sample) -> Sample:
    return Sample.from_dict(sample.to_dict(with_meta=False))


def test_tokenize_step_with_an_unstable_template(bpe_dir: Path, tmp_path: Path) -> None:
    """An unmarked template that is not prefix-stable: rejected with the turn named, or trained
    on the last turn with unstable: last; split (many rows per sample) is refused up front."""
    from family_templates import FAMILIES, FAMILY_CONVERSATIONS, unmarked

    path = tmp_path / "qwen3.jinja"
    path.write_text(unmarked(FAMILIES["qwen3"].source), encoding="utf-8")
    sample = FAMILY_CONVERSATIONS["zh_multi"]
    plain = build_op("tokenize", {"tokenizer": str(bpe_dir), "template": str(path)})
    kept, rejects = plain.apply([sample])  # type: ignore[attr-defined]
    assert not kept
    assert rejects[0].reason == "not_prefix_stable"
    last = build_op(
        "tokenize", {"tokenizer": str(bpe_dir), "template": str(path), "unstable": "last"}
    )
    kept, rejects = last.apply([sample])  # type: ignore[attr-defined]
    assert len(kept) == 1 and not rejects
    with pytest.raises(RecipeError, match="unstable: split cannot apply"):
        build_op(
            "tokenize", {"tokenizer": str(bpe_dir), "template": str(path), "unstable": "split"}
        )
