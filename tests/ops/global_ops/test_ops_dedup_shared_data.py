"""dedup_near on the real Chinese and English Alpaca data (skipped when ../shared/data is absent)."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest

from sftforge.ops.base import build_op
from shared_data import SHARED_DATA

DATA = Path(os.environ.get("SFTFORGE_DATA", str(SHARED_DATA)))
FILES = {
    "zh": DATA / "llama_factory/data/alpaca_zh_demo.json",
    "en": DATA / "llama_factory/data/alpaca_en_demo.json",
}


def one_edit(text: str, rng: random.Random, lang: str) -> str:
    if lang == "zh":
        i = rng.randrange(len(text))
        return text[:i] + "啊" + text[i + 1 :]
    words = text.split()
    words[rng.randrange(len(words))] = "zzz"
    return " ".join(words)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_planted_single_edits_found_in_real_data(mk, run_op, lang) -> None:
    if not FILES[lang].exists():
        pytest.skip(f"{FILES[lang]} not available")
    rows = json.loads(FILES[lang].read_text("utf-8"))[:300]
    texts = [r["instruction"] + "\n" + r["input"] + "\n" + r["output"] for r in rows]
    rng = random.Random(0)
    long_ones = [i for i, t in enumerate(texts) if len(t.split() if lang == "en" else t) >= 150]
    planted = rng.sample(long_ones, 30)
    samples = [mk(t, id=f"o{i}") for i, t in enumerate(texts)]
    samples += [mk(one_edit(texts[i], rng, lang), id=f"p{i}") for i in planted]
    out, rejects = run_op(build_op("dedup_near", {"view": "prompt"}), samples)
    assert len(out) + len(rejects) == len(samples)
    found = {r.sample.id: r.kept_id for r in rejects if r.sample.id.startswith("p")}
    assert found == {f"p{i}": f"o{i}" for i in planted}
    assert all(r.value >= 0.8 for r in rejects)
