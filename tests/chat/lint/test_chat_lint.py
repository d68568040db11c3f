from __future__ import annotations

from typing import Any

import pytest

from sftforge.chat.lint import lint_samples, lint_tokenized
from sftforge.chat.lint_render import hf_renderer
from sftforge.sample import Message, Sample, ToolCall


def conv(*pairs: tuple[str, str]) -> Sample:
    return Sample([Message(r, c) for r, c in pairs])  # type: ignore[arg-type]


GOOD = conv(("user", "Hello"), ("assistant", "I am fine."))


def checks(report: Any) -> set[str]:
    return {f.check for f in report.findings}


def test_clean_conversation_has_no_errors(tok: Any, chatml_gen: str) -> None:
    report = lint_samples([GOOD], tok, render=hf_renderer(tok, chatml_gen))
    assert report.errors == 0 and checks(report) == set()


@pytest.mark.parametrize(
    ("sample", "check"),
    [
        (conv(("assistant", "x")), "role-order"),
        (conv(("user", "a"), ("user", "b"), ("assistant", "c")), "role-order"),
        (conv(("user", "ignore <|im_end|> this"), ("assistant", "ok")), "special-token"),
        (conv(("user", "hi"), ("assistant", "<s> hi")), "special-token"),
        (conv(("user", "hi"), ("assistant", "<think>plan</think> ok")), "think-in-content"),
        (conv(("user", "hi"), ("assistant", "<tool_call>{bad json</tool_call>")), "tool-call-json"),
        (
            Sample(
                [Message("user", "hi"), Message("assistant", "", tool_calls=[ToolCall("f", "x")])]
            ),
            "tool-call-json",
        ),  # type: ignore[arg-type]
        (
            Sample(
                [Message("user", "hi"), Message("assistant", "b")],
                tools=[{"description": "no name"}],
            ),
            "tool-call-json",
        ),
    ],
)
def test_content_checks(tok: Any, chatml_gen: str, sample: Sample, check: str) -> None:
    report = lint_samples([sample], tok, render=hf_renderer(tok, chatml_gen))
    assert check in checks(report)


def test_template_without_marks_and_without_turn_end(tok: Any) -> None:
    plain = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    report = lint_samples([GOOD], tok, render=hf_renderer(tok, plain))
    assert {"no-generation-marks", "no-turn-end"} <= checks(report)


def test_untrained_eos_is_an_error(tok: Any) -> None:
    tpl = (
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
        "{% if m['role'] == 'assistant' %}{% generation %}{{ m['content'] }}{% endgeneration %}"
        "{% else %}{{ m['content'] }}{% endif %}<|im_end|>\n{% endfor %}"
    )
    report = lint_samples([GOOD], tok, render=hf_renderer(tok, tpl))
    assert "eos-untrained" in checks(report)


def test_double_bos_and_prompt_not_prefix(tok: Any) -> None:
    tpl = (
        "<s><s>{% for m in messages %}{{ m['content'] }}<|im_end|>{% endfor %}"
        "{% if add_generation_prompt %}[ANSWER]{% endif %}"
    )
    report = lint_samples([GOOD], tok, render=hf_renderer(tok, tpl))
    assert {"double-bos", "prompt-not-prefix"} <= checks(report)


def test_lengths_histogram_and_truncation(tok: Any, chatml_gen: str) -> None:
    long = conv(("user", "Hello world, how are you? " * 10), ("assistant", "fine"))
    report = lint_samples([GOOD, long], tok, render=hf_renderer(tok, chatml_gen), max_len=12)
    assert report.over_max == 2 and sum(n for _, n in report.histogram()) == 2
    fully = [f for f in report.findings if f.check == "fully-masked"]
    assert [f.row for f in fully] == [1]  # its answer starts after token 12


def test_pad_equal_to_eos_is_flagged(make_tokenizer: Any, chatml_gen: str) -> None:
    tok = make_tokenizer(eos="<|endoftext|>")
    report = lint_samples([GOOD], tok, render=hf_renderer(tok, chatml_gen))
    assert "pad-is-eos" in checks(report)


@pytest.mark.parametrize(
    ("row", "check"),
    [
        ({"input_ids": [3, 3, 5, 2], "labels": [-100, -100, 5, 2]}, "double-bos"),
        ({"input_ids": [3, 5, 6], "labels": [-100, 5, 6]}, "no-eos"),
        ({"input_ids": [3, 5, 2], "labels": [-100, 5, -100]}, "eos-untrained"),
        ({"input_ids": [3, 5, 2], "labels": [-100, -100, -100]}, "fully-masked"),
        ({"input_ids": [3, 5, 2], "labels": [-100, 5]}, "labels-length"),
        ({"input_ids": [3, 5, 6, 7, 2], "labels": [-100, 5, 6, 7, 2]}, "too-long"),
    ],
)
def test_tokenized_row_checks(tok: Any, row: dict[str, Any], check: str) -> None:
    ids = {3: tok.bos_token_id, 2: tok.eos_token_id}
    fix = {k: [ids.get(t, t) if t != -100 else t for t in v] for k, v in row.items()}
    report = lint_tokenized([fix], tok, max_len=4)
    assert check in checks(report)


def test_an_answered_empty_user_turn_is_a_warning_not_an_error(tok: Any, chatml_gen: str) -> None:
    """issue 16: an empty user turn that something answers is legal; lint warns about it."""
    sample = conv(
        ("user", "写诗"), ("assistant", "床前明月光"), ("user", ""), ("assistant", "疑是地上霜")
    )
    report = lint_samples([sample], tok, render=hf_renderer(tok, chatml_gen))
    found = [(f.check, f.severity, f.message) for f in report.findings]
    assert found == [("empty-user-turn", "warning", "message 2 (user): empty user turn")]
    assert report.errors == 0
    last = conv(("user", "q"), ("assistant", "a"), ("user", " "))
    report = lint_samples([last], tok, render=hf_renderer(tok, chatml_gen))
    assert ("role-order", "error") in {(f.check, f.severity) for f in report.findings}
