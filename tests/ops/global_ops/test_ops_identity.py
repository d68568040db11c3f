from __future__ import annotations

from collections import Counter

import pytest

from sftforge.errors import RecipeError
from sftforge.ops.base import build_op
from sftforge.ops.identity import load_templates


def test_bundled_templates_have_30_per_language() -> None:
    bank = load_templates()
    for lang in ("en", "zh"):
        assert len(bank[lang]["questions"]) >= 30 and len(bank[lang]["answers"]) >= 30
        assert all("{{name}}" in a and "{{author}}" in a for a in bank[lang]["answers"])


@pytest.mark.parametrize(
    ("n", "share", "generated"), [(98, 0.02, 2), (900, 0.1, 100), (10, 0.0, 0)]
)
def test_share(mk, run_op, n, share, generated) -> None:
    data = [mk(f"q{i}", id=f"s{i}") for i in range(n)]
    op = build_op("identity", {"model_name": "Forgy", "author": "Acme Lab", "share": share})
    out, rejects = run_op(op, data)
    ident = [s for s in out if s.meta.get("source") == "identity"]
    assert rejects == [] and len(ident) == generated == op.counters.extra["generated"]
    assert [s.id for s in out if s.meta.get("source") != "identity"] == [s.id for s in data]


def test_substitution_and_languages(mk, run_op) -> None:
    data = [mk(f"q{i}", id=f"s{i}") for i in range(10)]
    op = build_op(
        "identity", {"model_name": "小锻", "author": "Acme 实验室", "count": 200, "seed": 3}
    )
    out, _ = run_op(op, data)
    ident = [s for s in out if s.meta.get("source") == "identity"]
    assert len(ident) == 200 and len({s.id for s in ident}) == 200
    assert Counter(s.meta["lang"] for s in ident).keys() == {"en", "zh"}
    for s in ident:
        answer = s.messages[-1].content
        assert "小锻" in answer and "Acme 实验室" in answer and "{{" not in answer
    assert len({(s.messages[0].content, s.messages[1].content) for s in ident}) == 200


def test_deterministic_and_system(mk, run_op) -> None:
    data = [mk(f"q{i}", id=f"s{i}") for i in range(20)]
    opts = {
        "model_name": "A",
        "author": "B",
        "count": 5,
        "languages": ["zh"],
        "system": "sys",
        "seed": 7,
    }
    out1, _ = run_op(build_op("identity", opts), data)
    out2, _ = run_op(build_op("identity", opts), data)
    assert [s.to_dict() for s in out1] == [s.to_dict() for s in out2]
    ident = [s for s in out1 if s.meta.get("source") == "identity"]
    assert all(s.messages[0].role == "system" and s.meta["lang"] == "zh" for s in ident)


@pytest.mark.parametrize(
    "options",
    [
        {"author": "B"},
        {"model_name": "A", "author": "B", "share": 1.0},
        {"model_name": "A", "author": "B", "languages": ["fr"]},
    ],
)
def test_bad_options(options) -> None:
    with pytest.raises(RecipeError):
        build_op("identity", options)
