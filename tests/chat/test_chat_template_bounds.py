"""Hostile chat templates: bounded in time, size, loop steps and call depth, sandboxed.

Each case runs under a wall-clock guard (SIGALRM): a template that hangs fails the test at the
guard instead of hanging the suite. A template that goes past a bound fails its sample with a
reason; one that does so on every conversation (the template itself) fails the run in one line.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from chat_fixtures import CONVERSATIONS
from wall_clock import wall_clock

from sftforge.chat import ChatTokenizer, render_messages
from sftforge.chat.jinja_bounds import Bounds
from sftforge.chat.templates import ChatTemplate
from sftforge.chat.tokenize import tokenize_samples
from sftforge.cli.main import main
from sftforge.errors import TemplateError
from sftforge.sample import Sample

GUARD_S = 20.0  # per case; a bounded render stops within Bounds.seconds (5 s) at worst


HOSTILE = {
    "nested-loops": "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}"
    "{% endfor %}",
    "nested-loops-output": "{% for i in range(100000) %}{% for j in range(100000) %}x"
    "{% endfor %}{% endfor %}",
    "repeat-string": "{{ 'x' * 10**9 }}",
    "repeat-list": "{{ ([1] * 1000000000) | length }}",
    "huge-power": "{{ 10 ** (10 ** 10) }}",
    "huge-range": "{% for i in range(10**9) %}{% endfor %}",
    "recursion": "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
    "recursive-loop": "{% for m in messages recursive %}{{ loop([m]) }}{% endfor %}",
    "percent-width": "{{ '%999999999d' % 1 }}",
    "format-width": "{{ '{:>999999999}'.format(1) }}",
    "format-width-arg": "{{ '{:>{w}}'.format(1, w=999999999) }}",
    "center-filter": "{{ 'x' | center(999999999) }}",
    "ljust-method": "{{ 'x'.ljust(999999999) }}",
    "indent-filter": "{{ 'a\nb' | indent(999999999) }}",
    "tojson-indent": "{{ messages | tojson(indent=999999999) }}",
    "doubling-namespace": "{% set ns = namespace(s='x') %}{% for i in range(60) %}"
    "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | length }}",
    "replace-growth": "{% set s = 'x' * 100000 %}{{ s.replace('x', s) | length }}",
    "output-flood": "{% for i in range(100000) %}{% for j in range(9) %}{{ 'y' * 10000 }}"
    "{% endfor %}{% endfor %}",
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_template_fails_within_bounds(name: str) -> None:
    template = ChatTemplate(name, HOSTILE[name])
    start = time.monotonic()
    with wall_clock(GUARD_S), pytest.raises(TemplateError, match="exceeded its bounds") as info:
        render_messages([{"role": "user", "content": "hi"}], template)
    assert time.monotonic() - start < 10
    assert "\n" not in str(info.value)


def test_time_bound() -> None:
    # a loop under every count bound that still takes long: stopped by the clock
    slow = ChatTemplate(
        "slow", "{% for i in range(100000) %}{% for j in range(9) %}{{ (i ~ j) | length }}"
        "{% endfor %}{% endfor %}"
    )  # fmt: skip
    with wall_clock(GUARD_S), pytest.raises(TemplateError, match=r"ran longer than 0\.05 s"):
        render_messages([], slow, bounds=Bounds(seconds=0.05))


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ messages.append(1) }}",
        "{{ cycler.__init__.__globals__ }}",
        "{% set ns = namespace() %}{% set ns._x = 1 %}",
    ],
)
def test_sandbox_blocks_escapes(source: str) -> None:
    with wall_clock(GUARD_S), pytest.raises(TemplateError):
        render_messages([{"role": "user", "content": "hi"}], ChatTemplate("escape", source))


# attribute reads BoundedEnvironment answers itself (dicts, str methods, loop, namespace): each
# must render what the plain immutable sandbox renders, or fail as it does
_FAST_READS = [
    "{{ messages[0].role }}|{{ messages[0].missing is defined }}|{{ messages[0].items }}",
    "{{ messages[0].content.strip().upper() }}|{{ messages[0].content.startswith('h') }}",
    "{{ messages[0].content.replace('h', 'j', 1) }}|{{ 'a{}'.format('b') }}",
    "{% for m in messages %}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}"
    "{{ loop.length }}{{ loop.cycle('x', 'y') }}{{ loop.previtem is defined }}{% endfor %}",
    "{% set ns = namespace(a=1, f='x{}'.format) %}{% set ns.a = ns.a + 1 %}{{ ns.a }}"
    "{{ ns.f('y') }}{{ ns.b is defined }}",
    "{{ messages[0].content.__class__ is defined }}|{{ messages[0].__class__ is defined }}",
    "{{ messages[0].clear() }}",
    "{% for m in messages %}{{ loop.__class__ is defined }}{{ loop._after is defined }}"
    "{% endfor %}",
    "{% set ns = namespace(a=1) %}{{ ns._Namespace__attrs is defined }}",
]


@pytest.mark.parametrize("source", _FAST_READS)
def test_fast_attribute_reads_match_the_sandbox(source: str) -> None:
    from jinja2.exceptions import SecurityError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    from sftforge.chat.jinja_bounds import BoundedEnvironment, _BoundedNamespace

    messages = [{"role": "user", "content": " hello "}, {"role": "assistant", "content": "A"}]
    outcomes = []
    for env_class in (ImmutableSandboxedEnvironment, BoundedEnvironment):
        env = env_class()
        if env_class is ImmutableSandboxedEnvironment:
            env.globals["namespace"] = _BoundedNamespace  # the same namespace class
        try:
            outcomes.append(env.from_string(source).render(messages=messages))
        except SecurityError as exc:
            outcomes.append(f"SecurityError: {exc}")
    assert outcomes[0] == outcomes[1]
    assert outcomes[0]  # something was rendered or refused


def test_real_templates_stay_well_inside(tokenizers_by_kind: dict[str, Any]) -> None:
    """The catalogue renders a 200-turn conversation with tools without touching a bound."""
    turns: list[dict[str, Any]] = [{"role": "system", "content": "S"}]
    for k in range(100):
        turns += [
            {"role": "user", "content": f"问题 {k}"},
            {"role": "assistant", "content": f"answer {k}"},
        ]
    chat = ChatTokenizer(tokenizers_by_kind["bpe"], "qwen2.5")
    with wall_clock(GUARD_S):
        row = chat.tokenize(Sample.from_dict({"messages": turns}))
    assert row.n_trained > 0


def test_a_sample_past_the_bounds_is_rejected_the_others_kept(bpe_tok: Any) -> None:
    # quadratic in the content length: fine for normal turns, past the step bound for one
    source = (
        "{% for m in messages %}"
        "{% for a in m.content %}{% for b in m.content %}{% endfor %}"
        "{% endfor %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )
    big = Sample.from_dict(
        {
            "messages": [
                {"role": "user", "content": "x" * 3000},
                {"role": "assistant", "content": "y"},
            ]
        }
    )
    samples = [CONVERSATIONS["single"], big, CONVERSATIONS["multi_cjk"]]
    with wall_clock(GUARD_S):
        result = tokenize_samples(samples, bpe_tok, ChatTemplate("quadratic", source))
    assert [r.id for r in result.rows] == [samples[0].id, samples[2].id]
    (rej,) = result.rejects
    assert rej.sample.id == big.id
    assert rej.reason == "template_error"
    assert "loops ran more than 1000000 steps" in str(rej.value)


def test_raise_exception_rejects_the_sample(bpe_tok: Any) -> None:
    source = (
        "{% for m in messages %}{% if m.role == 'system' %}"
        "{{ raise_exception('System role not supported') }}{% endif %}"
        "{{ m.role }}: {{ m.content }}\n{% endfor %}"
    )
    result = tokenize_samples(
        [CONVERSATIONS["single"], CONVERSATIONS["multi_cjk"]], bpe_tok, ChatTemplate("g", source)
    )
    assert len(result.rows) == 1
    assert "System role not supported" in str(result.rejects[0].value)


@pytest.fixture()
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"".join(s.to_json() + b"\n" for s in CONVERSATIONS.values()))
    return path


def test_cli_hostile_template_file_fails_the_run_in_one_line(
    data_file: Path, bpe_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hostile = tmp_path / "hostile.jinja"
    hostile.write_text(HOSTILE["nested-loops-output"], encoding="utf-8")
    out = tmp_path / "out.parquet"
    with wall_clock(GUARD_S):
        rc = main(["tokenize", str(data_file), str(out), "--tokenizer", str(bpe_dir),
                   "--template", str(hostile)])  # fmt: skip
    err = capsys.readouterr().err
    assert rc != 0
    assert "exceeded its bounds" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_cli_hostile_tokenizer_template_fails_the_run_in_one_line(
    data_file: Path, bpe_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "tok"
    folder.mkdir()
    for f in bpe_dir.iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    config = json.loads((folder / "tokenizer_config.json").read_text())
    config["chat_template"] = HOSTILE["nested-loops"] + "{{ messages[0].content }}"
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    out = tmp_path / "out.parquet"
    with wall_clock(GUARD_S):
        rc = main(["tokenize", str(data_file), str(out), "--tokenizer", str(folder)])
    err = capsys.readouterr().err
    assert rc != 0
    assert "chat template 'tokenizer' exceeded its bounds" in err and "Traceback" not in err
    assert not out.exists()


def test_long_numbers_in_the_text_are_not_format_widths() -> None:
    # a regression: any string holding 7+ digits was taken for a format width
    source = (
        "{% for m in messages %}{% if m.content.startswith('x') %}{% endif %}"
        "{{ '%s: %s' % (m.role, m.content) }}{{ '{}|{:>3}'.format(m.role, 1) }}{% endfor %}"
    )
    text, _ = render_messages(
        [{"role": "user", "content": "see https://example.com/a9271286 and 12345678%d"}],
        ChatTemplate("digits", source),
    )
    assert text == "user: see https://example.com/a9271286 and 12345678%duser|  1"


@pytest.mark.parametrize("profile", ["trl", "axolotl"])
def test_profiles_refuse_a_hostile_template_before_work(bpe_tok: Any, profile: str) -> None:
    """TRL and axolotl render through transformers with the template compiled in the bounded
    sandbox: a template past the bounds on the probe is refused when the profile is made
    (per-sample blow-ups: tests/chat/profiles/test_profiles_bounds.py)."""
    from sftforge.chat.profiles import get_profile

    with wall_clock(GUARD_S), pytest.raises(TemplateError, match="exceeded its bounds"):
        get_profile(profile, bpe_tok, chat_template=HOSTILE["nested-loops-output"])
