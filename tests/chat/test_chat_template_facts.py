"""``lint``'s template facts, on the family templates (shipped without marks)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from family_templates import FAMILIES, FAMILY_CONVERSATIONS, unmarked

from sftforge.chat.template_facts import TemplateFacts, template_facts
from sftforge.chat.templates import ChatTemplate
from sftforge.cli.main import main


def facts(tok: Any, name: str) -> TemplateFacts:
    f = FAMILIES[name]
    return template_facts(ChatTemplate(f.name, unmarked(f.source), dict(f.kwargs)), tok)


@pytest.fixture(scope="module")
def tok(family_tokenizers: dict[str, Any]) -> Any:
    return family_tokenizers["bpe"]


def test_prefix_stability_and_where(tok: Any) -> None:
    assert facts(tok, "chatml").prefix_stable
    assert facts(tok, "llama3.1").prefix_stable
    qwen3 = facts(tok, "qwen3")
    assert not qwen3.prefix_stable
    assert "assistant turn 1 multi-turn: the turn renders differently" in qwen3.unstable_at[0]
    mistral = facts(tok, "mistral-v3")
    assert mistral.unstable_at == [
        "assistant turn 1 with a system prompt: the prompt rendered for inference is not how "
        "the conversation begins"
    ]


def test_bos_and_turn_end(tok: Any) -> None:
    llama2 = facts(tok, "llama2")
    assert llama2.adds_bos and llama2.turn_end == " </s>" and llama2.turn_end_kind == "EOS"
    qwen = facts(tok, "qwen2.5")
    assert not qwen.adds_bos
    assert (qwen.turn_end, qwen.turn_end_kind) == (
        "<|im_end|>",
        "an end-of-turn special token, not EOS",
    )
    glm = facts(tok, "glm4")
    assert glm.turn_end_kind == "nothing: the model is not taught to stop"
    assert facts(tok, "phi3").trailer == "</s>"


def test_double_bos_when_the_tokenizer_adds_its_own(sp_tok: Any) -> None:
    # the SentencePiece test tokenizer adds BOS when encoding with special tokens
    assert facts(sp_tok, "llama2").double_bos
    assert not facts(sp_tok, "chatml").double_bos


def test_system_prompt_facts(tok: Any) -> None:
    assert facts(tok, "qwen2.5").default_system == "You are Qwen, a helpful assistant."
    assert facts(tok, "command-r").default_system.startswith("You are Command-R")  # type: ignore[union-attr]
    assert facts(tok, "chatml").default_system is None
    assert facts(tok, "chatml").system == "own turn"
    assert facts(tok, "gemma3").system == "folded into a user turn"
    assert facts(tok, "llama2").system == "folded into a user turn"
    assert facts(tok, "gemma").system == "refused"


def test_reasoning_and_tool_facts(tok: Any) -> None:
    assert facts(tok, "qwen3").reasoning == "dropped from earlier turns (kept in the last)"
    assert facts(tok, "chatml").reasoning == "not rendered"
    assert facts(tok, "minimind").reasoning == "kept in every turn"
    hermes = facts(tok, "hermes")
    assert hermes.tool_calls == "rendered"
    assert (
        hermes.tool_results.startswith("rendered after") and "tool_response" in hermes.tool_results
    )
    llama31 = facts(tok, "llama3.1")
    assert "ipython" in llama31.tool_results
    assert facts(tok, "gemma").tool_results.startswith("refused")
    assert facts(tok, "phi3").tool_calls == "dropped"


def test_lint_cli_prints_the_facts(
    tok: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "tok"
    tok.save_pretrained(folder)
    config = json.loads((folder / "tokenizer_config.json").read_text())
    config["chat_template"] = unmarked(FAMILIES["qwen3"].source)
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    data = tmp_path / "in.jsonl"
    data.write_bytes(FAMILY_CONVERSATIONS["zh_multi"].to_json() + b"\n")
    main(["lint", str(data), "--tokenizer", str(folder)])
    out = capsys.readouterr().out
    assert "chat template 'tokenizer':" in out
    assert "NOT prefix-stable: assistant turn 1 multi-turn" in out
    assert "reasoning: dropped from earlier turns (kept in the last)" in out
    main(["lint", str(data), "--tokenizer", str(folder), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert report["template"]["prefix_stable"] is False
