"""Best-fit-decreasing packing: placement, position_ids, seq_lens, boundary labels, utilisation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sftforge.chat import TokenizedRow, best_fit_decreasing, pack_rows
from sftforge.errors import TokenizeError


@pytest.mark.parametrize(
    ("lengths", "capacity", "bins"),
    [
        ([5, 4, 3, 2, 1, 1], 8, [[0, 2], [1, 3, 4, 5]]),
        ([8, 8], 8, [[0], [1]]),
        ([3, 3, 3], 9, [[0, 1, 2]]),
        ([6, 5, 2, 2], 8, [[0, 2], [1, 3]]),
        ([], 8, []),
    ],
)
def test_best_fit_decreasing_table(
    lengths: list[int], capacity: int, bins: list[list[int]]
) -> None:
    assert best_fit_decreasing(lengths, capacity) == bins


@given(st.lists(st.integers(1, 64), max_size=200), st.integers(64, 200))
def test_every_item_placed_once_within_capacity(lengths: list[int], capacity: int) -> None:
    bins = best_fit_decreasing(lengths, capacity)
    assert sorted(i for b in bins for i in b) == list(range(len(lengths)))
    assert all(sum(lengths[i] for i in b) <= capacity for b in bins)
    # best fit never leaves two bins that could be merged into one
    loads = sorted(sum(lengths[i] for i in b) for b in bins)
    assert len(loads) < 2 or loads[0] + loads[1] > capacity


def _row(rid: str, n: int) -> TokenizedRow:
    ids = list(range(100, 100 + n))
    return TokenizedRow(rid, ids, [-100, *ids[1:]])


def test_pack_rows_layout() -> None:
    rows = [_row("a", 3), _row("b", 5), _row("c", 2)]
    packed, stats = pack_rows(rows, 8)
    assert [p.to_dict() for p in packed] == [
        {
            "ids": ["b", "a"],
            "input_ids": [100, 101, 102, 103, 104, 100, 101, 102],
            "labels": [-100, 101, 102, 103, 104, -100, 101, 102],
            "attention_mask": [1] * 8,
            "position_ids": [0, 1, 2, 3, 4, 0, 1, 2],
            "seq_lens": [5, 3],
        },
        {
            "ids": ["c"],
            "input_ids": [100, 101],
            "labels": [-100, 101],
            "attention_mask": [1, 1],
            "position_ids": [0, 1],
            "seq_lens": [2],
        },
    ]
    assert stats.to_dict() == {
        "samples": 3,
        "bins": 2,
        "tokens": 10,
        "max_len": 8,
        "utilisation": 0.625,
    }


def test_first_label_of_each_packed_sample_is_masked() -> None:
    trained_first = TokenizedRow("x", [7, 8], [7, 8])
    packed, _ = pack_rows([trained_first, trained_first], 4)
    assert packed[0].labels == [-100, 8, -100, 8]


def test_row_longer_than_bin_is_an_error() -> None:
    with pytest.raises(TokenizeError, match="a row of 9 tokens does not fit max_len 8"):
        pack_rows([_row("a", 9)], 8)
