"""The browse layer on its own: the in-place substring search against Arrow's, and the
derived columns every row gets."""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow.compute as pc
import pytest

from sftforge.sample import Message, Sample
from sftforge.studio.browse import VersionView, _mask, page
from sftforge.studio.versions import VersionWriter, derive_columns, row_from_sample


@pytest.fixture(scope="module")
def view(tmp_path_factory: pytest.TempPathFactory) -> VersionView:
    """3,000 rows of short random text over a small alphabet: many matches, many of them across
    the border of two rows' texts in the column's data (which must not count)."""
    rng = random.Random(7)
    alphabet = "ab数据集中文 X"
    writer = VersionWriter(tmp_path_factory.mktemp("versions"), None, dataset_id="d_1")
    for i in range(3000):
        user = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 10))).strip() or "q"
        answer = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 10))).strip() or "a"
        sample = Sample(messages=[Message("user", user), Message("assistant", answer)])
        writer.add(row_from_sample(sample, f"r{i}", src="t", src_line=i + 1, made_by="test"))
    _, path, _ = writer.finish()
    return VersionView(Path(path))


@pytest.mark.parametrize(
    "needle", ["数据", "集中", "文 x", "中文a", "据集中文", "x数", "b数据集中文 ", "数", "a数"]
)
def test_chinese_search_finds_exactly_the_rows_arrow_finds(view: VersionView, needle: str) -> None:
    expected = _mask(pc.match_substring(view.table["search"], needle.lower()))
    got = view.search(needle)
    assert (got == expected).all()
    assert page(view, q=needle, limit=3000)["total"] == int(expected.sum())


def test_upper_case_latin_is_found_in_lower_case_text(view: VersionView) -> None:
    assert view.search("X数").sum() == view.search("x数").sum() > 0


def test_derive_columns_of_a_tool_conversation() -> None:
    sample = Sample.from_dict(
        {
            "messages": [
                {"role": "system", "content": "S"},
                {"role": "user", "content": "天气?"},
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [{"name": "w", "arguments": {"c": "京"}}],
                },
                {"role": "tool", "content": "晴"},
                {"role": "assistant", "content": "Sunny", "reasoning": "看结果"},
            ]
        }
    )
    d = derive_columns(sample)
    assert (d["n_turns"], d["n_user"], d["n_assistant"], d["n_tool"]) == (5, 1, 2, 1)
    assert d["has_system"] is True and d["first_user"] == "天气?" and d["first_assistant"] == ""
    # the search text holds every turn, the reasoning and the tool call, lower-cased
    for part in ("s", "天气?", '"name":"w"', "晴", "sunny", "看结果"):
        assert part in d["search"]
    assert d["tokens_est"] >= 6
