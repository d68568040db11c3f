"""The xtuner profile against XTuner 0.2.0, and its agreement with ``export --for xtuner``: one
refusal rule, one template decision, the same options (issue 11)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sftforge.chat.profiles import Encoded, Rejected, get_profile
from sftforge.chat.profiles.xtuner import XTUNER_TEMPLATES, xtuner_refusal, xtuner_template
from sftforge.cli.main import main
from sftforge.errors import TemplateError, TokenizeError
from sftforge.export import export_samples
from sftforge.export.common import ExportJob
from sftforge.export.xtuner import profile_settings
from sftforge.sample import Message, Sample, ToolCall

TOOLS = [{"name": "weather", "parameters": {"type": "object", "properties": {}}}]
CHAT = Sample(
    [Message("system", "你是助手"), Message("user", "天气？"), Message("assistant", "晴")]
)
MULTI = Sample(
    [
        Message("user", "a"),
        Message("assistant", "b"),
        Message("user", "c"),
        Message("assistant", "d"),
    ]
)
# glaive_toolcall_zh_demo's "tool list, no call" samples: XTuner's openai_map_fn never reads tools
TOOL_LIST_ONLY = Sample(
    [Message("user", "讲个笑话"), Message("assistant", "抱歉，我只能查天气。")], tools=TOOLS
)
TOOL_CALL = Sample(
    [
        Message("user", "北京天气?"),
        Message("assistant", "", tool_calls=[ToolCall("weather", {"city": "北京"})]),
        Message("tool", "3C"),
        Message("assistant", "3 度"),
    ],
    tools=TOOLS,
)


def test_profile_and_export_refuse_the_same_samples_for_the_same_reason(
    tok: Any, tmp_path: Path
) -> None:
    samples = [CHAT, TOOL_LIST_ONLY, TOOL_CALL, MULTI]
    rows = get_profile("xtuner", tok, template="qwen_chat").encode_batch(samples)
    profile_refused = {r.sample_id: r.reason for r in rows if isinstance(r, Rejected)}
    res = export_samples(samples, "xtuner", tmp_path, model="/m/x", template="qwen_chat")
    assert dict(res.rejected) == profile_refused
    assert set(profile_refused) == {TOOL_LIST_ONLY.id, TOOL_CALL.id}
    assert "tool list" in profile_refused[TOOL_LIST_ONLY.id]
    assert len((tmp_path / "train.jsonl").read_text(encoding="utf-8").splitlines()) == 2


@pytest.mark.parametrize(
    ("messages", "why"),
    [
        ([Message("user", "q"), Message("tool", "x"), Message("assistant", "a")], "tool turns"),
        ([Message("user", "q"), Message("assistant", "", tool_calls=[ToolCall("f", {})])], "calls"),
    ],
)
def test_refusal_names_what_openai_map_fn_cannot_read(messages: list[Message], why: str) -> None:
    reason = xtuner_refusal(Sample(messages))
    assert reason is not None and why in reason
    assert xtuner_refusal(CHAT) is None


def test_sample_without_an_answer_is_dropped_like_template_map_fn(tok: Any) -> None:
    # openai_map_fn makes no round of a lone user turn; template_map_fn's filter drops the row
    (row,) = get_profile("xtuner", tok).encode_batch([Sample([Message("user", "only a question")])])
    assert isinstance(row, Rejected) and "no assistant turn" in row.reason


def test_template_decision_follows_the_tokenizer_and_warns_where_it_renders_otherwise(
    tok: Any,
) -> None:
    # the test tokenizer is ChatML with a <s> BOS: XTuner's qwen_chat, but XTuner puts that BOS
    # before the first round, which the tokenizer's own template does not
    name, notes = xtuner_template(tok, None)
    assert name == "qwen_chat"
    assert len(notes) == 1 and "renders differently" in notes[0] and "<s>" in notes[0]
    assert get_profile("xtuner", tok).template == "qwen_chat"
    assert get_profile("xtuner", tok).notes == notes


@pytest.mark.parametrize(
    ("marker_template", "expected"),
    [
        ("<|start_header_id|>{{ m }}<|eot_id|>", "llama3_chat"),
        ("<start_of_turn>{{ m }}<end_of_turn>", "gemma"),
        ("[INST] <<SYS>>{{ m }}<</SYS>> [/INST]", "llama2_chat"),
        ("[INST] {{ m }} [/INST]", "mistral"),
        ("<|user|>{{ m }}<|end|><|assistant|>", "phi3_chat"),
        ("### Human: {{ m }}", "default"),
    ],
)
def test_template_decision_by_the_chat_template_format(
    make_tokenizer: Any, marker_template: str, expected: str
) -> None:
    tok = make_tokenizer()
    tok.chat_template = "{% for m in messages %}" + marker_template + "{% endfor %}"
    assert xtuner_template(tok, None)[0] == expected


def test_given_template_wins_and_no_tokenizer_is_said(tok: Any) -> None:
    assert xtuner_template(tok, "default")[0] == "default"
    name, notes = xtuner_template(None, None)
    assert name == "default" and "no tokenizer" in notes[0]
    assert xtuner_template(None, "internlm2_chat") == ("internlm2_chat", [])
    with pytest.raises(TemplateError, match="unknown XTuner template 'qwen'"):
        xtuner_template(tok, "qwen")  # LLaMA-Factory's name, not XTuner's


def test_a_chatml_tokenizer_without_bos_renders_exactly_like_qwen_chat(make_tokenizer: Any) -> None:
    tok = make_tokenizer(bos=None)
    tok.chat_template = (
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
        "{% endfor %}"
    )
    assert xtuner_template(tok, None) == ("qwen_chat", [])


def test_every_xtuner_prompt_template_encodes(tok: Any) -> None:
    # XTuner 0.2.0 has 27 PROMPT_TEMPLATE entries; --template accepts each of them
    assert len(XTUNER_TEMPLATES) == 27
    for name in XTUNER_TEMPLATES:
        out = get_profile("xtuner", tok, template=name).encode(MULTI)
        assert any(label != -100 for label in out.labels), name


def test_a_system_prompt_is_refused_where_the_template_has_no_system(
    tok: Any, tmp_path: Path
) -> None:
    # minicpm has no SYSTEM: XTuner's template_map_fn would stop the dataset on CHAT's system
    (row,) = get_profile("xtuner", tok, template="minicpm").encode_batch([CHAT])
    assert isinstance(row, Rejected) and "no SYSTEM" in row.reason
    res = export_samples([CHAT, MULTI], "xtuner", tmp_path, model="/m/x", template="minicpm")
    assert res.rejected == [(CHAT.id, row.reason)]


def test_chatglm2_round_numbers(tok: Any) -> None:
    out = get_profile("xtuner", tok, template="chatglm2").encode(MULTI)
    text = tok.decode(out.input_ids)
    assert "[Round 1]" in text and "[Round 2]" in text


def test_options_are_the_config_names_and_agree_with_the_flags(tok: Any) -> None:
    both = get_profile("xtuner", tok, template="default", prompt_template="default")
    cut = len(both.encode(MULTI).input_ids) - 2
    by_flag = get_profile("xtuner", tok, template="default", max_length=cut)
    by_option = get_profile("xtuner", tok, prompt_template="default", max_length=cut)
    assert by_flag.encode(MULTI).input_ids == by_option.encode(MULTI).input_ids
    assert len(by_flag.encode(MULTI).input_ids) == cut and both.template == "default"
    packed = get_profile("xtuner", tok, template="default", pack_to_max_length=True)
    assert packed.encode(MULTI).input_ids == both.encode(MULTI).input_ids  # rows before packing
    with pytest.raises(TokenizeError, match="disagree"):
        get_profile("xtuner", tok, template="default", prompt_template="qwen_chat")
    with pytest.raises(TokenizeError, match="unknown xtuner option"):
        get_profile("xtuner", tok, lr=1e-4)
    with pytest.raises(TokenizeError, match="true or false"):
        get_profile("xtuner", tok, pack_to_max_length="yes")


def _written_template(folder: Path) -> str:
    line = next(
        x
        for x in (folder / "xtuner_qlora_config.py").read_text(encoding="utf-8").splitlines()
        if x.startswith("prompt_template = ")
    )
    return line.removeprefix("prompt_template = PROMPT_TEMPLATE.")


@pytest.mark.parametrize("template", [None, "default"])
def test_export_and_tokenize_profile_agree_on_the_template_and_the_tokens(
    tok_dir: Path, tmp_path: Path, template: str | None
) -> None:
    samples = [CHAT, MULTI]
    out = tmp_path / "x"
    res = export_samples(samples, "xtuner", out, model=str(tok_dir), template=template)
    job = ExportJob(outdir=out, train=samples, model=str(tok_dir), template=template)
    job.tokenizer = str(tok_dir)
    settings = profile_settings(job)
    assert _written_template(out) == settings.template == (template or "qwen_chat")
    # both differ from the tokenizer's ChatML with a <s> BOS: the note says so either way
    assert any("renders differently" in n for n in res.notes)
    # the CLI profile, with the same flags, encodes the records the export wrote the same way
    data = tmp_path / "in.jsonl"
    data.write_text(
        "".join(json.dumps(s.to_dict(), ensure_ascii=False) + "\n" for s in samples),
        encoding="utf-8",
    )
    args = ["tokenize", str(data), str(tmp_path / "t.parquet"), "--tokenizer", str(tok_dir)]
    args += ["--profile", "xtuner"] + (["--template", template] if template else [])
    assert main(args) == 0
    import pyarrow.parquet as pq

    cli_rows = pq.read_table(tmp_path / "t.parquet").to_pylist()
    prof = get_profile(
        "xtuner",
        _load(tok_dir),
        template=settings.template,
        max_length=settings.max_length,
        **settings.options,
    )
    exported = [
        Sample([Message(m["role"], m["content"]) for m in json.loads(line)["messages"]])
        for line in (out / "train.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    rows = [prof.encode(s) for s in exported]
    assert all(isinstance(r, Encoded) for r in rows)
    assert [list(r["input_ids"]) for r in cli_rows] == [r.input_ids for r in rows]
    assert [list(r["labels"]) for r in cli_rows] == [r.labels for r in rows]


def _load(path: Path) -> Any:
    from sftforge.chat.profiles import load_tokenizer

    return load_tokenizer(str(path))


def test_export_options_reach_the_config_and_the_profile_settings(
    tok_dir: Path, tmp_path: Path
) -> None:
    options = {"max_length": 512, "pack_to_max_length": True, "lr": 1e-5, "max_epochs": 1}
    export_samples([CHAT], "xtuner", tmp_path, model=str(tok_dir), options=options)
    text = (tmp_path / "xtuner_qlora_config.py").read_text(encoding="utf-8")
    for line in ("max_length = 512", "pack_to_max_length = True", "lr = 1e-05", "max_epochs = 1"):
        assert f"\n{line}\n" in text
    job = ExportJob(outdir=tmp_path, train=[CHAT], model=str(tok_dir), options=options)
    job.tokenizer = str(tok_dir)
    settings = profile_settings(job)
    assert (settings.max_length, settings.options) == (512, {"pack_to_max_length": True})
    # the settings are arguments the profile takes as they are
    get_profile("xtuner", _load(tok_dir), template=settings.template, **settings.options)


def test_tokenize_cli_refuses_the_config_names_for_flags(tok_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "in.jsonl"
    data.write_text(json.dumps(MULTI.to_dict(), ensure_ascii=False) + "\n", encoding="utf-8")
    base = ["tokenize", str(data), str(tmp_path / "a.parquet")]
    tail = ["--tokenizer", str(tok_dir), "--profile", "xtuner"]
    # --template and --max-len are the one spelling; XTuner's config names are refused
    assert main([*base, *tail, "--option", "prompt_template=default"]) != 0
    assert main([*base, *tail, "--option", "max_length=64"]) != 0
    assert main([*base, *tail, "--template", "default", "--max-len", "64"]) == 0


def test_a_template_that_refuses_a_system_turn_is_still_recognised(make_tokenizer: Any) -> None:
    tok = make_tokenizer()
    tok.chat_template = (
        "{% for m in messages %}{% if m['role'] == 'system' %}"
        "{{ raise_exception('System role not supported') }}{% endif %}"
        "<start_of_turn>{{ m['role'] }}\n{{ m['content'] }}<end_of_turn>\n{% endfor %}"
    )
    name, notes = xtuner_template(tok, None)
    assert name == "gemma"
    # compared without the system turn: they differ ('model' vs 'assistant', BOS), said once
    assert len(notes) == 1 and "renders differently" in notes[0]
