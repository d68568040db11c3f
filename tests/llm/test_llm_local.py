from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from sftforge.llm import LLMConfig, LocalProvider

TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|end|>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def _tiny(tmp_path: Path) -> tuple[Any, Any]:
    """A word-level tokenizer and a random 2-layer Llama, built here: nothing is downloaded."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    words = [
        "<unk>",
        "<s>",
        "</s>",
        "<|user|>",
        "<|assistant|>",
        "<|end|>",
        "hello",
        "world",
        "你",
        "好",
    ]
    vocab = {w: i for i, w in enumerate(words + [f"w{i}" for i in range(54)])}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core, unk_token="<unk>", bos_token="<s>", eos_token="</s>"
    )
    tok.add_special_tokens({"additional_special_tokens": ["<|user|>", "<|assistant|>", "<|end|>"]})
    tok.chat_template = TEMPLATE
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=64,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
    )
    model = LlamaForCausalLM(cfg).eval()
    model.save_pretrained(tmp_path / "tiny")
    tok.save_pretrained(tmp_path / "tiny")
    return model, tok


def test_local_provider_generates_with_the_chat_template(tmp_path: Path) -> None:
    model, tok = _tiny(tmp_path)
    prov = LocalProvider("tiny", model_obj=model, tokenizer=tok, device="cpu")
    msgs = [{"role": "user", "content": "hello world"}]
    out = asyncio.run(prov.complete(msgs, max_tokens=5))
    assert out.usage.prompt_tokens == 5  # <|user|> hello world <|end|> <|assistant|>
    assert 1 <= out.usage.completion_tokens <= 5
    # greedy decoding of a fixed random model is deterministic
    again = asyncio.run(prov.complete(msgs, max_tokens=5))
    assert (again.text, again.usage) == (out.text, out.usage)


def test_local_model_loads_from_a_folder_through_the_client(tmp_path: Path) -> None:
    _tiny(tmp_path)
    cfg = LLMConfig(
        provider="local", model=str(tmp_path / "tiny"), device="cpu", cache=str(tmp_path / "c.db")
    )

    async def job() -> Any:
        client = cfg.build_client()
        a = await client.complete([{"role": "user", "content": "你 好"}], max_tokens=4)
        b = await client.complete([{"role": "user", "content": "你 好"}], max_tokens=4)
        await client.aclose()
        return a, b, client.summary

    a, b, summary = asyncio.run(job())
    assert b.cached and b.text == a.text
    assert (summary.requests, summary.cache_hits) == (1, 1)


@pytest.mark.gpu
def test_local_provider_on_cuda(tmp_path: Path) -> None:
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    model, tok = _tiny(tmp_path)
    prov = LocalProvider("tiny", model_obj=model.to("cuda"), tokenizer=tok, device="cuda")
    cpu = asyncio.run(
        LocalProvider("tiny", model_obj=_tiny(tmp_path)[0], tokenizer=tok).complete(
            [{"role": "user", "content": "hello world"}], max_tokens=5
        )
    )
    out = asyncio.run(prov.complete([{"role": "user", "content": "hello world"}], max_tokens=5))
    assert out.usage.prompt_tokens == cpu.usage.prompt_tokens == 5


def test_cli_generate_with_the_local_provider(tmp_path: Path) -> None:
    import json

    from sftforge.cli.main import main

    _tiny(tmp_path)
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text(json.dumps({"instruction": "你 好"}) + "\n", encoding="utf-8")
    argv = [
        "generate",
        "respond",
        str(src),
        str(out),
        "--provider",
        "local",
        "--model",
        str(tmp_path / "tiny"),
    ]
    argv += [
        "--device",
        "cpu",
        "--max-tokens",
        "4",
        "--cache",
        str(tmp_path / "c.db"),
        "--no-progress",
    ]
    assert main(argv) == 0
    row = json.loads(out.read_text(encoding="utf-8"))
    assert row["meta"]["llm"]["provider"] == "local" and row["messages"][-1]["role"] == "assistant"
    assert row["meta"]["llm"]["usage"]["prompt_tokens"] == 5  # <|user|> 你 好 <|end|> <|assistant|>


def test_local_prompt_is_the_one_transformers_renders(tmp_path: Path) -> None:
    """The provider renders through sftforge's sandboxed renderer; the text equals the
    tokenizer's own ``apply_chat_template`` (the oracle) for an English and a Chinese turn."""
    model, tok = _tiny(tmp_path)
    prov = LocalProvider("tiny", model_obj=model, tokenizer=tok, device="cpu")
    for msgs in (
        [{"role": "user", "content": "hello world"}],
        [
            {"role": "user", "content": "你 好"},
            {"role": "assistant", "content": "好"},
            {"role": "user", "content": "world"},
        ],
    ):
        want = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
        assert prov._render(msgs) == want


def test_a_failing_template_is_one_clear_error(tmp_path: Path) -> None:
    from sftforge.errors import TemplateError

    model, tok = _tiny(tmp_path)
    tok.chat_template = "{{ raise_exception('only user turns, please') }}"
    prov = LocalProvider("tiny", model_obj=model, tokenizer=tok, device="cpu")
    with pytest.raises(TemplateError) as caught:
        asyncio.run(prov.complete([{"role": "user", "content": "hello"}], max_tokens=2))
    assert "only user turns, please" in str(caught.value)
