"""Token-for-token against the frameworks themselves, in their own venvs (slow; skipped without).

LLaMA-Factory: $SFTFORGE_LF_VENV (or .bench-venvs/llamafactory). TRL: $SFTFORGE_TRL_VENV (or
.bench-venvs/trl). Run with: pytest -m slow tests/chat/profiles/test_profiles_oracle.py
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from sftforge.chat.profiles import Encoded, get_profile
from sftforge.chat.profiles.trl import to_trl_record
from sftforge.export.llamafactory import write_llamafactory_data
from sftforge.sample import Message, Sample, ToolCall

ROOT = Path(__file__).resolve().parents[3]
BENCH = ROOT / "bench"


def _venv_python(env: str, default: str) -> Path:
    python = Path(os.environ.get(env, default)) / "bin" / "python"
    if not python.exists():
        pytest.skip(f"peer venv missing: set {env}")
    return python


SAMPLES = [
    Sample([Message("user", "Hello world"), Message("assistant", "I am fine.")]),
    Sample(
        [
            Message("system", "你是助手"),
            Message("user", "今天天气"),
            Message("assistant", "很好"),
            Message("user", "答案?"),
            Message("assistant", "四"),
        ]
    ),
    Sample(
        [
            Message("user", "weather in Beijing?"),
            Message("assistant", "", tool_calls=[ToolCall("weather", {"city": "北京"})]),
            Message("tool", '{"t": 3}'),
            Message("assistant", "3 度"),
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


LF_CASES = [(t, c) for t in ("qwen", "default", "llama3", "qwen3", None) for c in (2048, 12)]


@pytest.mark.slow
def test_llamafactory_profile_equals_llamafactory(tmp_path: Path, tok: Any, tok_dir: Path) -> None:
    python = _venv_python("SFTFORGE_LF_VENV", str(ROOT / ".bench-venvs" / "llamafactory"))
    write_llamafactory_data(SAMPLES, tmp_path, name="t")
    jobs = [
        {"tokenizer": str(tok_dir), "dataset_dir": str(tmp_path), "dataset": "t", "template": t,
         "cutoff_len": c, "options": {}, "out": str(tmp_path / f"peer{n}.jsonl")}
        for n, (t, c) in enumerate(LF_CASES)
    ]  # fmt: skip
    (tmp_path / "jobs.json").write_text(json.dumps(jobs))
    subprocess.run(
        [str(python), str(BENCH / "_peer_llamafactory.py"), str(tmp_path / "jobs.json")],
        check=True,
        capture_output=True,
    )
    for job, (template, cutoff) in zip(jobs, LF_CASES, strict=True):
        theirs = [json.loads(x) for x in Path(job["out"]).read_text().splitlines()]
        ours = get_profile("llamafactory", tok, template=template, max_length=cutoff).encode_batch(
            SAMPLES
        )
        got = [(o.input_ids, o.labels) for o in ours if isinstance(o, Encoded)]
        assert got == [(t["input_ids"], t["labels"]) for t in theirs], (template, cutoff)


@pytest.mark.slow
def test_trl_profile_equals_sft_trainer(
    tmp_path: Path, tok: Any, tok_dir: Path, chatml_gen: str
) -> None:
    python = _venv_python("SFTFORGE_TRL_VENV", str(ROOT / ".bench-venvs" / "trl"))
    samples = SAMPLES[:2]
    data = tmp_path / "train.jsonl"
    data.write_text(
        "".join(json.dumps(to_trl_record(s), ensure_ascii=False) + "\n" for s in samples)
    )
    variants = [(True, 1024), (False, 1024), (True, 9)]
    jobs = [
        {"tokenizer": str(tok_dir), "chat_template": chatml_gen, "data": str(data), "max_length": m,
         "truncation_mode": "keep_start", "assistant_only_loss": a, "completion_only_loss": None,
         "out": str(tmp_path / f"peer{n}.jsonl")}
        for n, (a, m) in enumerate(variants)
    ]  # fmt: skip
    (tmp_path / "jobs.json").write_text(json.dumps(jobs))
    subprocess.run(
        [str(python), str(BENCH / "_peer_trl.py"), str(tmp_path / "jobs.json")],
        check=True,
        capture_output=True,
    )
    for job, (assistant_only, max_len) in zip(jobs, variants, strict=True):
        theirs = [json.loads(x) for x in Path(job["out"]).read_text().splitlines()]
        prof = get_profile(
            "trl",
            tok,
            assistant_only_loss=assistant_only,
            max_length=max_len,
            chat_template=chatml_gen,
        )
        got = [
            (o.input_ids, o.labels) for o in prof.encode_batch(samples) if isinstance(o, Encoded)
        ]
        assert got == [(t["input_ids"], t["labels"]) for t in theirs], (assistant_only, max_len)


@pytest.mark.slow
def test_llamafactory_reads_the_exported_yaml_and_dataset_info(
    tmp_path: Path, tok_dir: Path
) -> None:
    from sftforge.export import export_samples

    python = _venv_python("SFTFORGE_LF_VENV", str(ROOT / ".bench-venvs" / "llamafactory"))
    export_samples(SAMPLES, "llamafactory", tmp_path, model=str(tok_dir), template="qwen")
    proc = subprocess.run(
        [str(python), str(BENCH / "_peer_lf_config.py"), str(tmp_path / "train_lora_sft.yaml")],
        cwd=tmp_path,  # the config's paths are relative to the export folder
        check=True,
        capture_output=True,
        text=True,
    )
    assert proc.stdout.strip().splitlines()[-1] == f"rows {len(SAMPLES)}"


def swift_record(sample: Sample) -> dict[str, Any]:
    """The sample as an ms-swift ``messages`` record: OpenAI tool calls, reasoning inline."""
    msgs: list[dict[str, Any]] = []
    for m in sample.messages:
        content = m.content
        if m.reasoning is not None:
            content = "<think>\n" + m.reasoning + "\n</think>\n\n" + content
        turn: dict[str, Any] = {"role": m.role, "content": content}
        if m.tool_calls:
            turn["tool_calls"] = [
                {"type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                | ({"id": c.id} if c.id else {})
                for c in m.tool_calls
            ]
        for key in ("name", "tool_call_id"):
            if getattr(m, key) is not None:
                turn[key] = getattr(m, key)
        if m.train is not None:
            turn["loss"] = m.train
        msgs.append(turn)
    return {"messages": msgs} | ({"tools": sample.tools} if sample.tools else {})


def _swift_jinja_samples() -> list[Sample]:
    from family_templates import FAMILY_CONVERSATIONS

    weather = FAMILY_CONVERSATIONS["tools"].tools
    extra = [
        Sample(  # ends with a user turn: ms-swift renders the generation prompt and trains it
            [
                Message("system", "你是助手"),
                Message("user", "今天天气"),
                Message("assistant", "很好"),
                Message("user", "明天呢？"),
            ]
        ),
        Sample(  # parallel calls, text beside them, results in the other order (ids)
            [
                Message("user", "北京和上海的天气?"),
                Message(
                    "assistant",
                    "I will check both.",
                    tool_calls=[
                        ToolCall("get_weather", {"city": "北京"}, "c1"),
                        ToolCall("get_weather", {"city": "上海"}, "c2"),
                    ],
                ),
                Message("tool", '{"temp": 25}', tool_call_id="c2"),
                Message("tool", '{"temp": 21}', tool_call_id="c1"),
                Message("assistant", "北京21度，上海25度。"),
            ],
            tools=weather,
        ),
        Sample(  # consecutive user turns, an untrained answer (the jinja backend trains it)
            [
                Message("user", "Hello world, "),
                Message("user", "how are you?"),
                Message("assistant", "I am fine.", train=False),
                Message("user", "And you?"),
                Message("assistant", "Fine too."),
            ]
        ),
    ]
    return [*FAMILY_CONVERSATIONS.values(), *extra]


@pytest.mark.slow
def test_swift_jinja_backend_equals_ms_swift(tmp_path: Path) -> None:
    """The ``swift`` profile with a tokenizer's chat template against ms-swift 4.6's own
    ``Template.encode(template_backend='jinja')``: every family template written for the tests,
    byte-level BPE and SentencePiece tokenizers, three ms-swift template types, truncation.
    Needs $SFTFORGE_SWIFT_VENV (a venv with ms-swift installed)."""
    from chat_fixtures import build_bpe, build_sentencepiece
    from family_templates import FAMILIES, FAMILY_SPECIALS, unmarked

    from sftforge.chat import load_tokenizer

    venv = os.environ.get("SFTFORGE_SWIFT_VENV")
    if not venv:
        pytest.skip("set SFTFORGE_SWIFT_VENV to a venv with ms-swift installed")
    samples = _swift_jinja_samples()
    corpus = [m.content for s in samples for m in s.messages]
    dirs = {
        "bpe": build_bpe(tmp_path / "bpe", FAMILY_SPECIALS, corpus),
        "sentencepiece": build_sentencepiece(tmp_path / "sp", FAMILY_SPECIALS, corpus),
    }
    toks = {kind: load_tokenizer(d) for kind, d in dirs.items()}
    data = tmp_path / "data.jsonl"
    data.write_text(
        "".join(json.dumps(swift_record(s), ensure_ascii=False) + "\n" for s in samples),
        encoding="utf-8",
    )
    cases: list[tuple[str, str, str, int | None, str]] = [
        (family, kind, "qwen3_nothinking", None, "delete") for family in FAMILIES for kind in dirs
    ]
    for family in ("qwen2.5", "llama3", "minimind", "gemma"):
        cases += [(family, "bpe", "qwen2_5", None, "delete"), (family, "bpe", "chatml", None, "delete")]  # fmt: skip
        cases += [(family, "bpe", "qwen", 40, "left"), (family, "bpe", "qwen", 40, "right")]
    jobs = [
        {"tokenizer": str(dirs[kind]), "template": swift_type, "template_backend": "jinja",
         "chat_template": unmarked(FAMILIES[family].source), "data": str(data),
         "max_length": max_len, "truncation_strategy": strategy if max_len else "raise",
         "out": str(tmp_path / f"peer{n}.jsonl")}
        for n, (family, kind, swift_type, max_len, strategy) in enumerate(cases)
    ]  # fmt: skip
    (tmp_path / "jobs.json").write_text(json.dumps(jobs))
    subprocess.run(
        [str(Path(venv) / "bin" / "python"), str(BENCH / "_peer_swift.py"), str(tmp_path / "jobs.json")],
        check=True,
        capture_output=True,
    )  # fmt: skip
    rows = refused = 0
    for job, (family, kind, swift_type, max_len, strategy) in zip(jobs, cases, strict=True):
        theirs = [json.loads(x) for x in Path(job["out"]).read_text().splitlines()]
        options = {"truncation_strategy": strategy} if max_len else {}
        ours = get_profile(
            "swift",
            toks[kind],
            chat_template=job["chat_template"],
            swift_template=swift_type,
            max_length=max_len,
            **options,
        ).encode_batch(samples)
        assert len(ours) == len(theirs) == len(samples)
        for i, (o, t) in enumerate(zip(ours, theirs, strict=True)):
            where = (family, kind, swift_type, max_len, strategy, i)
            if isinstance(o, Encoded):
                assert (o.input_ids, o.labels) == (t.get("input_ids"), t.get("labels")), where
                rows += 1
            else:
                assert "error" in t, (where, o.reason)
                refused += 1
    print(
        f"ms-swift jinja oracle: {len(jobs)} jobs, {rows} rows identical, {refused} refused by both"
    )
    assert rows > 0
    # the swift backend's truncation (shared code): plain conversations, cut left and right
    plain = [s for s in samples if not s.tools and s.messages[-1].role == "assistant"]
    (tmp_path / "plain.jsonl").write_text(
        "".join(json.dumps(swift_record(s), ensure_ascii=False) + "\n" for s in plain),
        encoding="utf-8",
    )
    cut = [
        {"tokenizer": str(dirs["bpe"]), "template": "qwen", "data": str(tmp_path / "plain.jsonl"),
         "max_length": 30, "truncation_strategy": strategy, "out": str(tmp_path / f"cut-{strategy}.jsonl")}
        for strategy in ("left", "right")
    ]  # fmt: skip
    (tmp_path / "cut.json").write_text(json.dumps(cut))
    subprocess.run(
        [str(Path(venv) / "bin" / "python"), str(BENCH / "_peer_swift.py"), str(tmp_path / "cut.json")],
        check=True,
        capture_output=True,
    )  # fmt: skip
    for job in cut:
        theirs = [json.loads(x) for x in Path(job["out"]).read_text().splitlines()]
        prof = get_profile("swift", toks["bpe"], template="qwen", max_length=30,
                           truncation_strategy=job["truncation_strategy"])  # fmt: skip
        got = [(o.input_ids, o.labels) if isinstance(o, Encoded) else o.reason for o in prof.encode_batch(plain)]  # fmt: skip
        assert got == [(t.get("input_ids"), t.get("labels")) for t in theirs], job
    print(f"ms-swift swift-backend truncation: {2 * len(plain)} rows identical")
