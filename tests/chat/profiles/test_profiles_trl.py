"""The trl profile against TRL 1.16's rules: the marked copy of an unmarked template (what
``export --for trl`` ships), tools in their own key order, the options it takes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sftforge.chat.profiles import Encoded, get_profile
from sftforge.chat.profiles.trl_template import decide_trl_template, marked_copy
from sftforge.errors import TemplateError, TokenizeError
from sftforge.sample import Message, Sample

IGN = -100
# a template that hides history answers: its turns cannot be found by rendering
HIDING = (
    "{% for m in messages %}<|im_start|>{{ m.role }}\n"
    "{{ m.content if loop.last or m.role != 'assistant' else '...' }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
# renders answers after "<|im_start|>bot" but prompts for "<|im_start|>assistant": no answer can
# be found by rendering, so no marked copy works
MISMATCH = (
    "{% for m in messages %}<|im_start|>{{ 'bot' if m.role == 'assistant' else m.role }}\n"
    "{{ m.content }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
# ChatML with a tools block (tojson keeps key order) and a leading newline and trailing text
TOOLS = (
    "\n{% if tools %}<|im_start|>system\n{{ tools | tojson }}<|im_end|>\n{% endif %}"
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}\n"
)
CONVERSATIONS = [
    [("user", "Hi"), ("assistant", "Hello")],
    [
        ("system", "S"),
        ("user", "a"),
        ("assistant", "b"),
        ("user", "你好"),
        ("assistant", "答案是四"),
    ],
]


def conv(pairs: list[tuple[str, str]], tools: Any = None) -> Sample:
    return Sample([Message(r, c) for r, c in pairs], tools=tools)  # type: ignore[arg-type]


@pytest.mark.parametrize("template", ["CHATML", "TOOLS"])
@pytest.mark.parametrize("prompt", [False, True])
def test_marked_copy_renders_the_template_s_text(tok: Any, template: str, prompt: bool) -> None:
    source = tok.chat_template if template == "CHATML" else TOOLS
    tools = [{"name": "f", "parameters": {}}]
    for pairs in CONVERSATIONS:
        msgs = [{"role": r, "content": c} for r, c in pairs]
        want = tok.apply_chat_template(
            msgs, tools=tools, chat_template=source, tokenize=False, add_generation_prompt=prompt
        )
        got = tok.apply_chat_template(
            msgs,
            tools=tools,
            chat_template=marked_copy(source),
            tokenize=False,
            add_generation_prompt=prompt,
        )
        assert got == want


def test_an_unmarked_template_trains_what_the_marked_one_does(tok: Any, chatml_gen: str) -> None:
    # the tokenizer's ChatML has no marks; its marked copy must train the answers and their
    # <|im_end|>, the tokens the hand-marked ChatML trains (that one also drops the newline
    # between turns: trim_blocks eats it after {% endgeneration %}, so only labels compare)
    samples = [conv(p) for p in CONVERSATIONS]
    copy = get_profile("trl", tok, assistant_only_loss=True).encode_batch(samples)
    hand = get_profile("trl", tok, assistant_only_loss=True, chat_template=chatml_gen)
    for mine, theirs in zip(copy, hand.encode_batch(samples), strict=True):
        assert isinstance(mine, Encoded) and isinstance(theirs, Encoded)
        trained = [t for t in mine.labels if t != IGN]
        assert trained == [t for t in theirs.labels if t != IGN]
        assert len(trained) < len(mine.input_ids)
        text = tok.decode(mine.input_ids)
        assert text == tok.apply_chat_template(
            [{"role": m.role, "content": m.content} for m in mine_sample(samples, mine).messages],
            tokenize=False,
        )


def mine_sample(samples: list[Sample], row: Encoded) -> Sample:
    return next(s for s in samples if s.id == row.sample_id)


def test_default_is_the_export_s_choice(tok: Any) -> None:
    # not given: answers only when a marked copy works (as the export writes), else every token
    marked = get_profile("trl", tok).encode(conv(CONVERSATIONS[0]))
    assert IGN in marked.labels
    plain = get_profile("trl", tok, chat_template=MISMATCH)
    assert (
        not plain.assistant_only and plain.notes and "assistant_only_loss is off" in plain.notes[0]
    )
    out = plain.encode(conv(CONVERSATIONS[1]))
    assert out.labels == out.input_ids


def test_asked_for_and_impossible_is_refused_with_the_reason(tok: Any) -> None:
    with pytest.raises(TemplateError, match="cannot be found by rendering"):
        decide_trl_template(tok, MISMATCH, assistant_only_loss=True, fallback=False)


def test_history_the_template_rewrites_is_left_untrained_and_said(tok: Any) -> None:
    prof = get_profile("trl", tok, chat_template=HIDING, assistant_only_loss=True)
    assert any("earlier assistant turns" in n for n in prof.notes)
    out = prof.encode(conv(CONVERSATIONS[1]))
    trained = tok.decode([t for t in out.labels if t != IGN])
    assert trained == "答案是四<|im_end|>"  # the last answer; the first is written as "..."


def test_tools_keep_their_key_order(tok: Any) -> None:
    tools = [{"type": "function", "function": {"name": "zeta", "description": "天气", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]  # fmt: skip
    other = [{"function": {"parameters": {}, "name": "alpha"}, "type": "function"}]
    rows = get_profile("trl", tok, chat_template=TOOLS, assistant_only_loss=False).encode_batch(
        [conv(CONVERSATIONS[0], tools), conv(CONVERSATIONS[0], other), conv(CONVERSATIONS[0])]
    )
    texts = [tok.decode(r.input_ids) for r in rows if isinstance(r, Encoded)]
    assert json.dumps(tools, ensure_ascii=False) in texts[0]  # as written, not key-sorted
    assert json.dumps(other, ensure_ascii=False) in texts[1]
    assert "zeta" not in texts[2] and "alpha" not in texts[2]


def test_chat_template_path_reads_the_file_as_trl_does(tok: Any, tmp_path: Path) -> None:
    path = tmp_path / "t.jinja"
    path.write_text(TOOLS, encoding="utf-8")
    prof = get_profile("trl", tok, chat_template_path=str(path), assistant_only_loss=False)
    assert prof.chat_template == TOOLS
    with pytest.raises(TemplateError, match=r"not a \.jinja"):
        get_profile("trl", tok, chat_template_path=str(tmp_path))


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"mask_history": True}, "unknown trl option"),
        ({"assistant_only_loss": "yes"}, "true or false"),
    ],
)
def test_bad_options_are_refused(tok: Any, options: dict[str, Any], match: str) -> None:
    with pytest.raises(TokenizeError, match=match):
        get_profile("trl", tok, **options)
