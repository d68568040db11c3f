"""``--profile trl``/``axolotl`` render through transformers' ``apply_chat_template`` with every
render bounded (``profiles/hf_bounds.py``): the same ids as transformers' own, and a sample that
drives the template past a bound (or makes it raise) rejected with the reason, the others kept.

Each hostile case runs under a wall-clock guard (SIGALRM): a render that hangs fails the test at
the guard instead of hanging the suite. The templates are fine on the profile's probe
conversation (short turns) and blow up only on a long message.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from family_templates import (
    FAMILIES,
    FAMILY_CONVERSATIONS,
    FAMILY_SPECIALS,
    conversations_for,
    unmarked,
)
from wall_clock import wall_clock

from sftforge.chat.jinja_bounds import Bounds
from sftforge.chat.profiles import Encoded, Rejected, get_profile
from sftforge.chat.profiles import axolotl as axolotl_module
from sftforge.chat.profiles import trl as trl_module
from sftforge.chat.profiles.hf_bounds import bounded_apply
from sftforge.cli.main import main
from sftforge.errors import TemplateError
from sftforge.sample import Message, Sample, ToolCall

GUARD_S = 30.0  # per case; a bounded render stops within Bounds.seconds (5 s) at worst


_TURN = (
    "{% if m['role'] == 'assistant' %}<|im_start|>assistant\n"
    "{% generation %}{{ m['content'] }}<|im_end|>{% endgeneration %}\n"
    "{% else %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endif %}"
)
_TAIL = "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"


def _chatml_with(hostile: str) -> str:
    """ChatML with generation marks, plus ``hostile`` (which renders nothing) in every turn."""
    return "{% for m in messages %}" + hostile + _TURN + "{% endfor %}" + _TAIL


# each is harmless on the probe (turns of 1-2 characters) and on axolotl's 17-character dummy
# turn, and past a bound on a 3000-character turn
HOSTILE = {
    "loops": "{% for a in m['content'] %}{% for b in m['content'] %}{% endfor %}{% endfor %}",
    "repeat": "{% set pad = 'x' * ((m['content'] | length) * 10**5) %}",
    "recursion": "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{% endif %}{% endmacro %}"
    "{% set depth = f(m['content'] | length) %}",
    "output": "{% for i in range(m['content'] | length) %}{% if i > 100 %}"
    "{{ ' ' * 10000 }}{% endif %}{% endfor %}",
}
REASONS = {
    "loops": "loops ran more than 1000000 steps",
    "repeat": "repeats a value past",
    "recursion": "nested calls deeper than 100",
    "output": "rendered more than 16000000 characters",
}


def _conv(*turns: str) -> Sample:
    roles = ["user", "assistant"] * len(turns)
    return Sample([Message(r, t) for r, t in zip(roles, turns, strict=False)])


NORMAL = [
    _conv("Hello world", "I am fine."),
    Sample(
        [
            Message("system", "你是助手"),
            Message("user", "今天天气"),
            Message("assistant", "很好"),
            Message("user", "答案?"),
            Message("assistant", "四"),
        ]
    ),
]
LONG = _conv("x" * 3000, "ok")


def _unbounded_apply(
    tokenizer: Any, conversation: Any, *, chat_template: str, bounds: Any, name: str, **kw: Any
) -> Any:
    return tokenizer.apply_chat_template(conversation, chat_template=chat_template, **kw)


PROFILE_CASES = [
    ("trl", {"assistant_only_loss": False}),
    # the marked copy of the template (TRL's assistant_only_loss), with generate() for the masks
    ("trl", {"assistant_only_loss": True}),
    ("trl", {"layout": "prompt_completion"}),
    ("axolotl", {}),
    ("swift", {}),  # ms-swift's jinja backend (a chat_template given)
]


@pytest.mark.parametrize(("profile", "options"), PROFILE_CASES)
@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_sample_past_the_bounds_is_rejected_the_others_kept(
    tok: Any, profile: str, options: dict[str, Any], case: str
) -> None:
    template = _chatml_with(HOSTILE[case])
    prof = get_profile(profile, tok, chat_template=template, **options)  # passes the probe
    samples = [NORMAL[0], LONG, NORMAL[1]]
    with wall_clock(GUARD_S):
        out = prof.encode_batch(samples)
    assert [type(r) for r in out] == [Encoded, Rejected, Encoded]
    rejected = out[1]
    assert isinstance(rejected, Rejected)
    assert rejected.sample_id == LONG.id
    assert f"chat template '{profile}' exceeded its bounds" in rejected.reason
    assert REASONS[case] in rejected.reason
    assert "\n" not in rejected.reason
    # the kept rows are what the profile gives for them alone
    assert out[0] == prof.encode(NORMAL[0])
    assert out[2] == prof.encode(NORMAL[1])


@pytest.mark.parametrize("profile", ["trl", "axolotl"])
def test_time_bound_per_render(tok: Any, profile: str) -> None:
    # under every count bound, slow only on a long turn: stopped by the clock
    # the bound is 0.5 s, ten times what the short sample needs even on a loaded machine, and the
    # long turn takes seconds: the test holds under load (a 0.05 s bound did not)
    slow = "{% for a in m['content'] %}{% for b in range(1500) %}{% set s = b ~ a %}{% endfor %}"
    slow += "{% endfor %}"
    # one render per sample for trl too (its marked copy renders a conversation once per turn)
    plain = {"assistant_only_loss": False} if profile == "trl" else {}
    prof = get_profile(profile, tok, chat_template=_chatml_with(slow), **plain)
    prof.bounds = Bounds(seconds=0.5, iterations=10**9)  # type: ignore[attr-defined]
    with wall_clock(20):
        out = prof.encode_batch([NORMAL[0], LONG])
    assert isinstance(out[0], Encoded)
    assert isinstance(out[1], Rejected)
    assert "ran longer than 0.5 s" in out[1].reason


@pytest.mark.parametrize("profile", ["trl", "axolotl"])
def test_a_template_that_raises_on_one_sample_rejects_only_it(tok: Any, profile: str) -> None:
    raises = "{% if m['content'] | length > 100 %}{{ raise_exception('turn too long') }}{% endif %}"
    prof = get_profile(profile, tok, chat_template=_chatml_with(raises))
    out = prof.encode_batch([NORMAL[0], LONG, NORMAL[1]])
    assert [type(r) for r in out] == [Encoded, Rejected, Encoded]
    assert isinstance(out[1], Rejected)
    assert out[1].reason == f"chat template '{profile}' failed: turn too long"


@pytest.mark.parametrize("profile", ["trl", "axolotl"])
def test_a_template_past_the_bounds_on_the_probe_stops_the_run(tok: Any, profile: str) -> None:
    hostile = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    with wall_clock(GUARD_S), pytest.raises(TemplateError, match="exceeded its bounds") as info:
        get_profile(profile, tok, chat_template=hostile + _TAIL)
    assert f"chat template '{profile}' exceeded its bounds" in str(info.value)


def test_a_template_syntax_error_stops_the_run(tok: Any) -> None:
    with pytest.raises(TemplateError, match="syntax error at line 1"):
        get_profile("trl", tok, chat_template="{% for m in messages %}")


RICH = [
    *NORMAL,
    Sample(
        [
            Message("user", "weather in Beijing?"),
            Message("assistant", "", tool_calls=[ToolCall("weather", {"city": "北京"})]),
            Message("tool", '{"t": 3}'),
            Message("assistant", "3 度", reasoning="cold <b>&</b>"),
        ],
        tools=[
            {
                "name": "weather",
                "description": "w",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            }
        ],
    ),
]
# the features a real template uses: tojson with options, namespace, dict, loop controls, macros,
# strftime_now, reasoning fields, tools, generation marks inside a macro, whitespace control
RICH_TEMPLATE = (
    "{%- macro say(m) -%}{% generation %}{{ m.content | trim }}{% endgeneration %}{%- endmacro -%}"
    "{%- set ns = namespace(n=0, last='') -%}"
    "{%- if tools %}<|im_start|>system\n{{ tools | tojson(indent=2, sort_keys=True) }}"
    "{{ tools | tojson }}{{ dict(a=1) | tojson(separators=(',', ':')) }}<|im_end|>\n{% endif -%}"
    "{%- for m in messages %}{% set ns.n = ns.n + 1 %}{% if loop.index > 50 %}{% break %}{% endif %}"
    "<|im_start|>{{ m.role }}{{ '%s-%d' % (m.role, ns.n) }}\n"
    "{% if m.role == 'assistant' %}"
    "{% if m.reasoning_content %}<think>{{ m.reasoning_content }}</think>{% endif %}"
    "{% for c in m.tool_calls or [] %}{{ c.function | tojson }}{% endfor %}{{ say(m) }}"
    "{% else %}{{ m.content }}{% endif %}<|im_end|>\n"
    "{%- endfor %}{{ strftime_now('%Y') | length }}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@pytest.mark.parametrize("template", ["own", "gen", "rich"])
@pytest.mark.parametrize("masks", [False, True])
def test_bounded_apply_gives_transformers_own_output(
    tok: Any, chatml_gen: str, template: str, masks: bool
) -> None:
    source = {"own": tok.chat_template, "gen": chatml_gen, "rich": RICH_TEMPLATE}[template]
    convs = [trl_module.to_trl_messages(s) for s in RICH]
    for tools in (None, RICH[2].tools):
        kw: dict[str, Any] = {"tools": tools, "chat_template": source}
        texts = bounded_apply(tok, convs, tokenize=False, **kw)
        assert texts == tok.apply_chat_template(convs, tokenize=False, **kw)
        assert any("天气" in t for t in texts) and all(t for t in texts)
        options: dict[str, Any] = {"return_dict": True, "return_assistant_tokens_mask": masks}
        ours = bounded_apply(tok, convs, **options, **kw)
        theirs = tok.apply_chat_template(convs, **options, **kw)
        assert dict(ours) == dict(theirs)
        if masks and template != "own":
            assert any(1 in m for m in ours["assistant_masks"])


@pytest.mark.parametrize("family", list(FAMILIES))
def test_bounded_apply_matches_transformers_on_every_family(
    make_tokenizer: Any, family: str
) -> None:
    """The templates reproducing the real families (tools, reasoning, macros, namespaces...),
    marked and as shipped, on every conversation they accept: text and masks identical."""
    fam = FAMILIES[family]
    tok = make_tokenizer()
    tok.add_special_tokens({"additional_special_tokens": FAMILY_SPECIALS})
    convs = [FAMILY_CONVERSATIONS[c] for c in conversations_for(fam)]
    for source in (fam.source, unmarked(fam.source)):
        for sample in convs:
            kw: dict[str, Any] = {
                "chat_template": source,
                "tools": sample.tools or None,
                **fam.kwargs,
            }
            messages = [trl_module.to_trl_messages(sample)]
            text = bounded_apply(tok, messages, tokenize=False, **kw)
            assert text == tok.apply_chat_template(messages, tokenize=False, **kw)
            masks = {"return_dict": True, "return_assistant_tokens_mask": source == fam.source}
            ours = bounded_apply(tok, messages, **masks, **kw)
            assert dict(ours) == dict(tok.apply_chat_template(messages, **masks, **kw))


_OUTPUT_CASES = [
    (p, o, t)
    for p, o in PROFILE_CASES
    for t in ("own", "gen", "rich")
    if not (o.get("assistant_only_loss") and t == "own")  # needs generation marks
]


@pytest.mark.parametrize(("profile", "options", "template"), _OUTPUT_CASES)
def test_profile_outputs_are_those_of_the_unbounded_render(
    tok: Any,
    chatml_gen: str,
    monkeypatch: pytest.MonkeyPatch,
    profile: str,
    options: dict[str, Any],
    template: str,
) -> None:
    source = {"own": tok.chat_template, "gen": chatml_gen, "rich": RICH_TEMPLATE}[template]
    bounded = get_profile(profile, tok, chat_template=source, **options).encode_batch(RICH)
    assert any(isinstance(r, Encoded) for r in bounded)
    module = trl_module if profile == "trl" else axolotl_module
    monkeypatch.setattr(module, "bounded_apply", _unbounded_apply)
    plain = get_profile(profile, tok, chat_template=source, **options).encode_batch(RICH)
    assert bounded == plain


def test_transformers_is_untouched_outside_a_bounded_render(tok: Any) -> None:
    from transformers.utils import chat_template_utils

    get_profile("trl", tok)  # installs the wrapper
    compiled = chat_template_utils._compile_jinja_template(tok.chat_template)
    assert type(compiled.environment).__name__ == "ImmutableSandboxedEnvironment"
    big = "{{ ('x' * 20000000) | length }}"
    assert tok.apply_chat_template([{"role": "user", "content": "h"}], chat_template=big,
                                   tokenize=False) == "20000000"  # fmt: skip


def _write_jsonl(path: Path, samples: list[Sample]) -> None:
    path.write_bytes(b"".join(s.to_json() + b"\n" for s in samples))


def test_cli_profile_rejects_the_hostile_sample_and_writes_the_rest(
    tok_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "in.jsonl"
    _write_jsonl(data, [NORMAL[0], LONG, NORMAL[1]])
    template = tmp_path / "t.jinja"
    template.write_text(_chatml_with(HOSTILE["loops"]), encoding="utf-8")
    out = tmp_path / "out.parquet"
    with wall_clock(GUARD_S):
        rc = main(["tokenize", str(data), str(out), "--tokenizer", str(tok_dir),
                   "--profile", "trl", "--template", str(template)])  # fmt: skip
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "Traceback" not in captured.err
    assert "3 samples: 2 written" in captured.out
    (reject,) = [json.loads(x) for x in (tmp_path / "out.rejects.jsonl").read_text().splitlines()]
    assert reject["id"] == LONG.id and reject["op"] == "profile:trl"
    assert "exceeded its bounds" in reject["reason"]


def test_cli_profile_with_a_template_hostile_on_the_probe_fails_in_one_line(
    tok_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "in.jsonl"
    _write_jsonl(data, NORMAL)
    template = tmp_path / "t.jinja"
    loops = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    template.write_text(loops + _TAIL, encoding="utf-8")
    out = tmp_path / "out.parquet"
    with wall_clock(GUARD_S):
        rc = main(["tokenize", str(data), str(out), "--tokenizer", str(tok_dir),
                   "--profile", "axolotl", "--template", str(template)])  # fmt: skip
    err = capsys.readouterr().err
    assert rc != 0
    assert "chat template 'axolotl' exceeded its bounds" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ messages.append(1) }}",
        "{{ cycler.__init__.__globals__ }}",
        "{% set ns = namespace() %}{% set ns._x = 1 %}",
        "{{ dict.__call__.__globals__ }}",
    ],
)
def test_the_bounded_copy_keeps_the_sandbox(tok: Any, source: str) -> None:
    with wall_clock(GUARD_S), pytest.raises(TemplateError, match="chat template 't' failed"):
        bounded_apply(tok, [{"role": "user", "content": "hi"}], chat_template=source, name="t",
                      tokenize=False)  # fmt: skip
