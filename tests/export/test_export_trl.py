"""``export --for trl``: the template decision it writes (a marked copy through
``chat_template_path``), the precision chosen at start, the options it writes, the tools as JSON
text, and that ``tokenize --profile trl`` encodes what it configures."""

from __future__ import annotations

import ast
import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "chat"))

from tiny_chatml import CHATML, build_tokenizer

from sftforge.chat.profiles import Encoded, get_profile, load_tokenizer
from sftforge.cli.main import main
from sftforge.errors import SftforgeError
from sftforge.export import export_samples
from sftforge.export.common import ExportJob
from sftforge.export.trl import profile_settings
from sftforge.sample import Message, Sample, ToolCall

TOOLS = [{"name": "weather", "description": "天气", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}]  # fmt: skip
SAMPLES = [
    Sample([Message("system", "你是助手"), Message("user", "天气？"), Message("assistant", "晴")]),
    Sample(
        [
            Message("user", "Hi"),
            Message("assistant", "Hello"),
            Message("user", "2+2?"),
            Message("assistant", "4"),
        ]
    ),
    Sample(
        [
            Message("user", "weather in Beijing?"),
            Message("assistant", "", tool_calls=[ToolCall("weather", {"city": "北京"})]),
            Message("tool", "3C"),
            Message("assistant", "3 度"),
        ],
        tools=TOOLS,
    ),
]
# renders answers after "<|im_start|>bot" but prompts for "<|im_start|>assistant": no answer can
# be found by rendering, so no marked copy works
MISMATCH = (
    "{% for m in messages %}<|im_start|>{{ 'bot' if m.role == 'assistant' else m.role }}\n"
    "{{ m.content }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@pytest.fixture(scope="module")
def tok_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tok")
    build_tokenizer().save_pretrained(path)
    return path


def sh_args(path: Path) -> list[str]:
    """The `trl sft` arguments of train_trl.sh (after the preamble), "$BF16" as written."""
    text = path.read_text(encoding="utf-8")
    command = text[text.index("trl sft") :]
    return shlex.split(command.replace("\\\n", " "))


def option(args: list[str], name: str) -> str:
    return args[args.index(f"--{name}") + 1]


def test_unmarked_template_ships_a_marked_copy(tmp_path: Path, tok_dir: Path) -> None:
    result = export_samples(SAMPLES, "trl", tmp_path, model=str(tok_dir))
    shipped = (tmp_path / "chat_template.jinja").read_text(encoding="utf-8")
    assert "{% generation %}" in shipped and CHATML in shipped
    script = (tmp_path / "train_trl.py").read_text(encoding="utf-8")
    compile(script, "train_trl.py", "exec")
    assert "assistant_only_loss=True" in script
    assert "chat_template_path=os.path.join(HERE, 'chat_template.jinja')" in script
    args = sh_args(tmp_path / "train_trl.sh")
    assert option(args, "assistant_only_loss") == "True"
    assert option(args, "chat_template_path") == "chat_template.jinja"
    assert any("marked copy" in n for n in result.notes)
    assert "chat_template.jinja" in (tmp_path / "README.md").read_text(encoding="utf-8")


def test_precision_is_chosen_at_start_never_bf16_always(tmp_path: Path, tok_dir: Path) -> None:
    export_samples(SAMPLES, "trl", tmp_path, model=str(tok_dir))
    script = (tmp_path / "train_trl.py").read_text(encoding="utf-8")
    assert "bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()" in script
    assert "    bf16=bf16," in script and "    bf16=True" not in script
    sh = (tmp_path / "train_trl.sh").read_text(encoding="utf-8")
    assert "BF16=$(python -c 'import torch; print(torch.cuda.is_available() and " in sh
    assert '--bf16 "$BF16"' in sh and 'report_to="none"' in script
    assert subprocess.run(["bash", "-n", str(tmp_path / "train_trl.sh")]).returncode == 0


def test_the_bf16_line_runs_in_bash(tmp_path: Path, tok_dir: Path) -> None:
    pytest.importorskip("torch")
    export_samples(SAMPLES, "trl", tmp_path, model=str(tok_dir))
    sh = (tmp_path / "train_trl.sh").read_text(encoding="utf-8")
    line = next(x for x in sh.splitlines() if x.startswith("BF16="))
    bindir = Path(sys.executable).parent
    out = subprocess.run(
        ["bash", "-c", f"{line}; echo $BF16"],
        capture_output=True,
        text=True,
        env={"PATH": f"{bindir}:/usr/bin:/bin"},
    )
    import torch

    want = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    assert out.stdout.strip() == str(want)


def test_options_are_written_as_given(tmp_path: Path, tok_dir: Path) -> None:
    opts = {"assistant_only_loss": False, "truncation_mode": "keep_end", "completion_only_loss": False}  # fmt: skip
    export_samples(SAMPLES, "trl", tmp_path, model=str(tok_dir), options=opts, max_length=321)
    script = (tmp_path / "train_trl.py").read_text(encoding="utf-8")
    for text in ("max_length=321", "assistant_only_loss=False", "truncation_mode='keep_end'",
                 "completion_only_loss=False"):  # fmt: skip
        assert text in script
    args = sh_args(tmp_path / "train_trl.sh")
    assert option(args, "truncation_mode") == "keep_end" and option(args, "max_length") == "321"
    assert not (tmp_path / "chat_template.jinja").exists()  # the tokenizer's own, unchanged
    with pytest.raises(SftforgeError, match="unknown trl option"):
        export_samples(SAMPLES, "trl", tmp_path / "x", model=str(tok_dir), options={"lr": 1})
    for bad in ({"assistant_only_loss": "yes"}, {"truncation_mode": "middle"}):
        with pytest.raises(SftforgeError, match="trl"):
            export_samples(SAMPLES, "trl", tmp_path / "y", model="org/m", options=bad)


def test_tools_are_json_text_in_their_key_order(tmp_path: Path, tok_dir: Path) -> None:
    export_samples(SAMPLES, "trl", tmp_path, model=str(tok_dir))
    rows = [json.loads(x) for x in (tmp_path / "data/train.jsonl").read_text().splitlines()]
    assert rows[2]["tools"] == json.dumps(TOOLS, ensure_ascii=False)
    assert "tools" not in rows[0]


def test_a_template_that_cannot_be_marked_falls_back_with_a_note(
    tmp_path: Path, tok_dir: Path
) -> None:
    tpl = tmp_path / "mismatch.jinja"
    tpl.write_text(MISMATCH, encoding="utf-8")
    out = tmp_path / "o"
    result = export_samples(SAMPLES, "trl", out, model=str(tok_dir), template=str(tpl))
    assert "assistant_only_loss=False" in (out / "train_trl.py").read_text(encoding="utf-8")
    assert (out / "chat_template.jinja").read_text(encoding="utf-8") == MISMATCH
    assert any("assistant_only_loss is off" in n for n in result.notes)
    with pytest.raises(SftforgeError, match="generation"):  # asked for: refused, not changed
        export_samples(
            SAMPLES, "trl", tmp_path / "p", model=str(tok_dir), template=str(tpl),
            options={"assistant_only_loss": True},
        )  # fmt: skip


def test_without_a_tokenizer_every_token_is_trained_and_said(tmp_path: Path) -> None:
    result = export_samples(SAMPLES, "trl", tmp_path, model="org/hub-model")
    script = (tmp_path / "train_trl.py").read_text(encoding="utf-8")
    assert "assistant_only_loss=False" in script and "chat_template_path" not in script
    assert any("without a tokenizer" in n for n in result.notes)
    with pytest.raises(SftforgeError, match="no tokenizer was given"):
        export_samples(
            SAMPLES, "trl", tmp_path / "asked", model="org/hub-model",
            options={"assistant_only_loss": True},
        )  # fmt: skip


def test_without_a_tokenizer_a_marked_template_is_shipped_as_is(tmp_path: Path) -> None:
    from tiny_chatml import CHATML_GEN

    tpl = tmp_path / "gen.jinja"
    tpl.write_text(CHATML_GEN, encoding="utf-8")
    result = export_samples(SAMPLES, "trl", tmp_path / "o", model="org/m", template=str(tpl))
    script = (tmp_path / "o" / "train_trl.py").read_text(encoding="utf-8")
    assert "assistant_only_loss=True" in script and "chat_template_path=" in script
    assert (tmp_path / "o" / "chat_template.jinja").read_text(encoding="utf-8") == CHATML_GEN
    assert not result.notes
    # sftforge's built-in templates have marks: a name is enough
    export_samples(SAMPLES, "trl", tmp_path / "b", model="org/m", template="chatml")
    assert "assistant_only_loss=True" in (tmp_path / "b" / "train_trl.py").read_text("utf-8")
    assert "generation" in (tmp_path / "b" / "chat_template.jinja").read_text("utf-8")
    # a template without marks: shipped, every token trained, said
    (tmp_path / "plain.jinja").write_text(CHATML, encoding="utf-8")
    plain = str(tmp_path / "plain.jinja")
    result = export_samples(SAMPLES, "trl", tmp_path / "c", model="org/m", template=plain)
    assert "assistant_only_loss=False" in (tmp_path / "c" / "train_trl.py").read_text("utf-8")
    assert (tmp_path / "c" / "chat_template.jinja").read_text("utf-8") == CHATML
    assert result.notes


def test_rows_trl_would_stop_on_go_to_rejects(tmp_path: Path, tok_dir: Path) -> None:
    tpl = tmp_path / "strict.jinja"
    tpl.write_text(
        "{% for m in messages %}{% if 'BAD' in m.content %}{{ raise_exception('no') }}{% endif %}"
        + CHATML[len("{% for m in messages %}") :],
        encoding="utf-8",
    )
    bad = Sample([Message("user", "BAD"), Message("assistant", "x")])
    result = export_samples([*SAMPLES, bad], "trl", tmp_path / "o", model=str(tok_dir), template=str(tpl))  # fmt: skip
    assert [i for i, _ in result.rejected] == [bad.id]
    assert "TRL would stop on it" in result.rejected[0][1]
    assert len((tmp_path / "o/data/train.jsonl").read_text().splitlines()) == 3


def rows(profile: Any, samples: list[Sample]) -> list[Any]:
    return [
        (r.input_ids, r.labels) for r in profile.encode_batch(samples) if isinstance(r, Encoded)
    ]


@pytest.mark.parametrize("template", [None, "chatml", "file"])
def test_tokenize_profile_and_export_agree(
    tmp_path: Path, tok_dir: Path, template: str | None
) -> None:
    if template == "file":
        (tmp_path / "t.jinja").write_text(CHATML.replace("\n{{", "\n>{{"), encoding="utf-8")
        template = str(tmp_path / "t.jinja")
    job = ExportJob(outdir=tmp_path / "o", train=SAMPLES, template=template, tokenizer=str(tok_dir), max_length=512)  # fmt: skip
    s = profile_settings(job)
    tok = load_tokenizer(str(tok_dir))
    exported = get_profile("trl", tok, template=s.template, max_length=s.max_length, **s.options)
    # what a user runs: tokenize --profile trl [--template T] --max-len 512, no options
    plain = get_profile("trl", tok, template=template, max_length=512)
    assert rows(exported, SAMPLES) == rows(plain, SAMPLES)
    assert s.options["assistant_only_loss"] is True


def test_cli_tokenize_takes_the_options_the_export_writes(tmp_path: Path, tok_dir: Path) -> None:
    pytest.importorskip("pyarrow")
    src = tmp_path / "in.jsonl"
    src.write_text("".join(s.to_json().decode() + "\n" for s in SAMPLES), encoding="utf-8")
    assert (
        main(["export", str(src), str(tmp_path / "o"), "--for", "trl", "--model", str(tok_dir)])
        == 0
    )
    out = tmp_path / "o" / "rows.parquet"
    argv = ["tokenize", str(src), str(out), "--tokenizer", str(tok_dir), "--profile", "trl",
            "--max-len", "2048", "--option", "assistant_only_loss=true",
            "--option", f"chat_template_path={tmp_path / 'o' / 'chat_template.jinja'}",
            "--option", "truncation_mode=keep_start"]  # fmt: skip
    assert main(argv) == 0
    import pyarrow.parquet as pq

    got = pq.read_table(out, columns=["input_ids", "labels"]).to_pylist()
    s = profile_settings(ExportJob(outdir=tmp_path / "o", train=SAMPLES, tokenizer=str(tok_dir)))
    prof = get_profile("trl", load_tokenizer(str(tok_dir)), max_length=2048, **s.options)
    assert [(r["input_ids"], r["labels"]) for r in got] == rows(prof, SAMPLES)
    assert ast.parse((tmp_path / "o" / "train_trl.py").read_text(encoding="utf-8"))
