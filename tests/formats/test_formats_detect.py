"""Format detection from the first records, its error, and the caller's override."""

from __future__ import annotations

from typing import Any

import pytest
from formats_records import GOOD

from sftforge.errors import FormatError
from sftforge.formats import detect_format


@pytest.mark.parametrize(
    ("name", "index", "expected"),
    [
        ("alpaca", 0, "alpaca"),
        ("alpaca", 3, "alpaca"),
        ("alpaca", 4, "alpaca"),  # instruction + chosen/rejected
        ("sharegpt", 0, "sharegpt"),
        ("sharegpt", 2, "sharegpt"),  # ranking turns, not TRL
        ("openai", 0, "openai"),
        ("openai", 1, "openai"),  # a bare list of messages
        ("openai", 2, "openai"),  # messages + label (KTO)
        ("swift", 0, "swift"),  # tool_call roles, tools as a JSON string
        ("swift", 1, "swift"),  # rejected_response
        ("swift", 3, "swift"),  # legacy query/response
        ("xtuner", 0, "xtuner"),
        ("fastchat", 0, "fastchat"),
        ("flat", 0, "flat"),
        ("llamafactory_v1", 0, "llamafactory_v1"),
        ("llamafactory_v1", 1, "llamafactory_v1"),
        ("trl", 0, "trl"),
        ("trl", 1, "trl"),
        ("trl", 2, "trl"),
        ("text", 0, "text"),
        ("text", 1, "text"),
    ],
)
def test_detects_each_format_from_its_records(name: str, index: int, expected: str) -> None:
    assert detect_format([GOOD[name][index]])[0] == expected


def test_litgpt_records_read_as_alpaca_which_carries_more() -> None:
    assert detect_format(GOOD["litgpt"]) == ("alpaca", 0.9)


def test_plain_strings_are_documents_unless_flat_transcripts() -> None:
    assert detect_format(["just a line", "another"]) == ("text", 0.6)
    assert detect_format(["User: a</s>\n Assistant: b</s>"]) == ("flat", 0.95)
    assert detect_format([{"text": "User: is a common start but no turns"}])[0] == "text"


def test_mean_over_records_and_unparsed_records_skipped() -> None:
    values: list[Any] = [None, *GOOD["sharegpt"], {"instruction": "odd one", "output": "x"}]
    name, score = detect_format(values)
    assert name == "sharegpt"
    assert 0.5 < score < 0.9


def test_nothing_fits_names_the_keys_found() -> None:
    with pytest.raises(FormatError) as exc:
        detect_format(
            [{"question": "q", "answer": "a"}, {"question": "q", "context": "c"}],
            candidates=["alpaca", "sharegpt"],
        )
    assert str(exc.value) == (
        "cannot detect the format: no known format fits records with keys: question, answer, context. "
        "Fix: pass --from with one of: alpaca, sharegpt"
    )


def test_empty_input_is_an_error() -> None:
    with pytest.raises(FormatError, match="there are no records to look at"):
        detect_format([None, None])


def test_override_wins_and_is_checked() -> None:
    assert detect_format([{"anything": 1}], override="openai") == ("openai", 1.0)
    with pytest.raises(FormatError) as exc:
        detect_format([], override="nope")
    assert exc.value.message == "unknown format 'nope'."


def test_conversations_with_role_content_are_sharegpt() -> None:
    record = {
        "conversations": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    }
    assert detect_format([record]) == ("sharegpt", 0.85)
