"""chat: answers equal transformers' own template + greedy generate (the oracle), with history,
system prompt, /reset, streaming, and --compare side by side; scripted stdin through the CLI."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from sftforge.cli.main import main
from sftforge.train.chat import ChatSession, GenerationSettings, chat_turn, side_by_side
from sftforge.train.load import load_model
from tiny_adapter import build_tiny_adapter
from tiny_models import build_tiny_model

N = 12  # new tokens per answer: enough to see the models differ, quick on CPU


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("chat")
    base = build_tiny_model(root / "base", "qwen2")
    return base, build_tiny_adapter(base, root / "adapter")


def _oracle(folder: Path, messages: list[dict[str, str]], adapter: Path | None = None) -> str:
    """transformers alone: its apply_chat_template, greedy generate, decode."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    model: Any = AutoModelForCausalLM.from_pretrained(str(folder), local_files_only=True)
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter))
    text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    ids = tok(text, return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        out = model.eval().generate(
            **ids, max_new_tokens=N, do_sample=False, eos_token_id=tok.eos_token_id,
            pad_token_id=tok.pad_token_id,
        )  # fmt: skip
    return str(tok.decode(out[0][ids["input_ids"].shape[1] :], skip_special_tokens=True)).strip()


def test_chat_turn_streams_the_oracle_answer(folders: tuple[Path, Path]) -> None:
    base, adapter = folders
    model = load_model(adapter)
    msgs = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "你好, how are you?"},
    ]
    pieces: list[str] = []
    answer = chat_turn(
        model, msgs, settings=GenerationSettings(max_new_tokens=N), on_text=pieces.append
    )
    assert answer == _oracle(base, msgs, adapter)
    assert len(pieces) > 1 and "".join(pieces).strip() == answer


def test_session_keeps_history_and_reset_forgets_it(folders: tuple[Path, Path]) -> None:
    base, _ = folders
    session = ChatSession(load_model(base), system="S")
    settings = GenerationSettings(max_new_tokens=N)
    first = session.say("Hello world", settings=settings)
    second = session.say("The answer is 4.", settings=settings)
    head = [{"role": "system", "content": "S"}, {"role": "user", "content": "Hello world"}]
    assert first == _oracle(base, head)
    follow = [
        *head,
        {"role": "assistant", "content": first},
        {"role": "user", "content": "The answer is 4."},
    ]
    assert second == _oracle(base, follow)
    session.reset()
    assert session.say("Hello world", settings=settings) == first


def test_cli_chat_with_scripted_stdin(folders: tuple[Path, Path], monkeypatch, capsys) -> None:
    base, adapter = folders
    script = "Hello world\n\n/system 你是助手\nHello world\n/exit\nnever read\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO(script))
    rc = main(["chat", str(adapter), "--system", "Be brief.", "--max-new-tokens", str(N)])
    assert rc == 0
    out = capsys.readouterr().out
    brief = _oracle(
        base,
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello world"}],
        adapter,
    )
    zh = _oracle(
        base,
        [{"role": "system", "content": "你是助手"}, {"role": "user", "content": "Hello world"}],
        adapter,
    )
    assert out.count("assistant> ") == 2  # the empty line and the line after /exit are not sent
    assert out.index(brief) < out.index("(history cleared)") < out.rindex(zh)


def test_cli_compare_prints_both_answers_side_by_side(
    folders: tuple[Path, Path], monkeypatch, capsys
) -> None:
    base, adapter = folders
    monkeypatch.setattr(sys, "stdin", io.StringIO("How are you?\n"))
    monkeypatch.setenv("COLUMNS", "120")
    rc = main(["chat", str(adapter), "--compare", str(base), "--max-new-tokens", str(N)])
    assert rc == 0
    msgs = [{"role": "user", "content": "How are you?"}]
    tuned, plain = _oracle(base, msgs, adapter), _oracle(base, msgs)
    assert tuned != plain  # the adapter changed the answer, so the columns can be told apart
    want = side_by_side(("adapter (tuned)", tuned), ("base (base)", plain), 120)
    assert want in capsys.readouterr().out


@pytest.mark.parametrize(
    ("left", "right", "width", "want"),
    [
        (
            ("A", "one two three"),
            ("B", "x"),
            23,
            "A          │ B\n────────── │ ──────────\none two    │ x\nthree      │",
        ),
        (
            ("A", "你好世界再见"),
            ("B", ""),
            23,
            "A          │ B\n────────── │ ──────────\n你好世界再 │\n见         │",
        ),
    ],
)
def test_side_by_side_wraps_by_terminal_columns(left, right, width, want) -> None:
    assert side_by_side(left, right, width) == want


def test_cli_chat_on_a_folder_without_a_model_says_so(tmp_path: Path, capsys) -> None:
    assert main(["chat", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"model '{tmp_path}' is not a model folder (no config.json in it)" in err
    assert "save_pretrained" in err


def test_a_full_context_leaves_the_oldest_exchanges_out(folders: tuple[Path, Path]) -> None:
    from sftforge.train.chat import prompt_text

    base, _ = folders
    model = load_model(base)
    history = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": f"turn {i} hello world"}
        for i in range(8)
    ]
    head, turn = (
        [{"role": "system", "content": "S"}],
        {"role": "user", "content": "The answer is 4."},
    )
    fits = [*head, *history[4:], turn]  # the last two exchanges and the new message
    size = len(model.tokenizer(prompt_text(model, fits), add_special_tokens=False)["input_ids"])
    model.model.config.max_position_embeddings = size + N  # room for those and the answer only
    session = ChatSession(model, system="S", history=list(history))
    answer = session.say("The answer is 4.", settings=GenerationSettings(max_new_tokens=N))
    assert session.dropped == 2
    assert session.history[:-1] == [*history[4:], turn]
    assert answer == _oracle(base, fits)


def test_ctrl_c_during_an_answer_stops_it_and_keeps_what_was_said(
    folders: tuple[Path, Path],
) -> None:
    base, _ = folders
    model = load_model(base)
    msgs = [{"role": "user", "content": "你好, how are you?"}]
    settings = GenerationSettings(max_new_tokens=N)
    full = chat_turn(model, msgs, settings=settings)
    seen: list[str] = []
    stopped: list[bool] = []

    def press_ctrl_c(piece: str) -> None:  # the interrupt arrives while the first piece shows
        seen.append(piece)
        raise KeyboardInterrupt

    partial = chat_turn(
        model,
        msgs,
        settings=settings,
        on_text=press_ctrl_c,
        on_interrupt=lambda: stopped.append(True),
    )
    assert stopped == [True] and partial == seen[0].strip() and full.startswith(partial)
    assert len(partial) < len(full)
    with pytest.raises(KeyboardInterrupt):  # without on_interrupt it goes on to the caller
        chat_turn(model, msgs, settings=settings, on_text=press_ctrl_c)
    assert chat_turn(model, msgs, settings=settings) == full  # nothing left running in between
