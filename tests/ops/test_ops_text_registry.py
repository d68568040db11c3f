"""Every text operator: registered, buildable with defaults, picklable (process pools), documented
with all of its options, and every YAML example in docs/operators.md builds."""

from __future__ import annotations

import dataclasses
import pickle
import re
from pathlib import Path

import pytest
import yaml
from ops_helpers import chat

import sftforge.ops.clean
import sftforge.ops.filters
import sftforge.ops.pii
import sftforge.ops.standardize  # noqa: F401  (register the operators)
from sftforge.errors import RecipeError
from sftforge.ops.base import OPS, Filter, Mapper, build_op

TEXT_OPS = [
    "clean_html", "remove_urls", "remove_boilerplate", "remove_control_chars", "fix_mojibake",
    "normalize_unicode", "normalize_whitespace", "convert_chinese", "extract_think", "clean",
    "standardize_dates", "standardize_times", "standardize_currency", "standardize_units",
    "length_filter", "turns_filter", "empty_answer_filter", "char_repetition_filter",
    "word_repetition_filter", "special_char_filter", "char_ratio_filter", "refusal_filter",
    "flagged_words_filter", "language_filter", "redact_pii", "pii_filter",
]  # fmt: skip
DOC = Path(__file__).resolve().parents[2] / "docs" / "operators.md"


@pytest.mark.parametrize("name", TEXT_OPS)
def test_op_builds_pickles_and_runs(name: str) -> None:
    op = build_op(name, {})
    clone = pickle.loads(pickle.dumps(op))
    sample = chat("<b>问题</b> a@b.cn", "<think>r</think>答案 2024年3月5日 N/A")
    if isinstance(clone, Filter):
        kept, rejects = clone.apply([sample])
        assert len(kept) + len(rejects) == 1
    else:
        assert isinstance(clone, Mapper)
        assert clone.apply([sample]) == [sample]


@pytest.mark.parametrize("name", TEXT_OPS)
def test_op_and_options_documented(name: str) -> None:
    doc = DOC.read_text(encoding="utf-8")
    row = next((ln for ln in doc.splitlines() if ln.startswith(f"| `{name}` |")), None)
    assert row is not None, f"{name} has no row in docs/operators.md"
    options = {f.name for f in dataclasses.fields(OPS[name]) if f.init} - {"targets"}
    documented = set(re.findall(r"`([a-z_]+)`", row))
    assert options - documented == set()


def test_doc_yaml_examples_build() -> None:
    doc = DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", doc, re.DOTALL)
    assert len(blocks) == 4
    for block in blocks:
        for step in yaml.safe_load(block)["steps"]:
            ((name, options),) = step.items()
            if options.get("tokenizer") or options.get("words_file"):
                continue  # names files that only exist in a user's project
            build_op(name, options)


def test_unknown_option_lists_valid_ones() -> None:
    with pytest.raises(RecipeError, match="valid options for 'clean_html': skip_code, targets"):
        build_op("clean_html", {"skip_cod": True})
