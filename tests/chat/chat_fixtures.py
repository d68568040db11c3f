"""Tiny tokenizers built inside the tests (no downloads) and the conversations they run on.

A uniquely named module (not conftest) so other test areas can never shadow it on import."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sftforge.sample import Sample

SPECIALS = [
    "<s>",
    "</s>",
    "<pad>",
    "<|im_start|>",
    "<|im_end|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
    "<|user|>",
    "<|assistant|>",
    "<|system|>",
    "<|observation|>",
    "[gMASK]",
]
CORPUS = [
    "Hello world, how are you today? I am fine, thank you.",
    "The quick brown fox jumps over the lazy dog.",
    "You are a helpful assistant. Answer the question briefly.",
    "你好，世界！今天天气很好。我们去公园散步吧。",
    '{"name": "get_weather", "arguments": {"city": "Paris"}}',
    "### Instruction:\nWrite a poem.\n\n### Response:\nRoses are red.",
    "[INST] hi [/INST] USER: ASSISTANT: Human: Assistant: System:",
    "<think>\nLet me think step by step.\n</think>\n\nThe answer is 42.",
    "<tool_call>\n</tool_call> <tool_response>\n</tool_response>",
]


def build_bpe(
    folder: Path, specials: list[str] | None = None, corpus: list[str] | None = None
) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=700 + 2 * len(specials or []),
        special_tokens=SPECIALS + [t for t in specials or [] if t not in SPECIALS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator((CORPUS + (corpus or [])) * 20, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        additional_special_tokens=SPECIALS[3:] + [t for t in specials or [] if t not in SPECIALS],
        clean_up_tokenization_spaces=False,
    )
    fast.save_pretrained(folder)
    return folder


def build_sentencepiece(
    folder: Path, specials: list[str] | None = None, corpus: list[str] | None = None
) -> Path:
    import sentencepiece as spm

    folder.mkdir(parents=True, exist_ok=True)
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter((CORPUS + (corpus or [])) * 20),
        model_prefix=str(folder / "tokenizer"),
        vocab_size=420 + 2 * len(specials or []),
        model_type="bpe",
        byte_fallback=True,
        character_coverage=1.0,
        user_defined_symbols=SPECIALS[2:] + [t for t in specials or [] if t not in SPECIALS],
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        minloglevel=2,
    )
    (folder / "tokenizer.vocab").unlink()
    config = {
        "tokenizer_class": "LlamaTokenizer",
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "add_bos_token": True,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    return folder


def sample(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None) -> Sample:
    return Sample.from_dict({"messages": messages, **({"tools": tools} if tools else {})})


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}

CONVERSATIONS: dict[str, Sample] = {
    "single": sample(
        [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Hello world, how are you?"},
            {"role": "assistant", "content": "I am fine, thank you."},
        ]
    ),
    "multi_cjk": sample(
        [
            {"role": "user", "content": "你好，世界！"},
            {"role": "assistant", "content": "你好！今天天气很好。"},
            {"role": "user", "content": "The quick brown fox?"},
            {"role": "assistant", "content": "Jumps over the lazy dog."},
            {"role": "user", "content": "我们去公园散步吧。"},
            {"role": "assistant", "content": "好的，我们走吧。"},
        ]
    ),
    "tools": sample(
        [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "What is the weather in Paris?"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}],
            },
            {"role": "tool", "content": '{"temp": 21, "sky": "晴"}', "name": "get_weather"},
            {"role": "assistant", "content": "It is 21 degrees and sunny in Paris."},
        ],
        tools=[WEATHER_TOOL],
    ),
    "reasoning": sample(
        [
            {"role": "user", "content": "What is six times seven?"},
            {
                "role": "assistant",
                "content": "The answer is 42.",
                "reasoning": "Let me think step by step. 6*7=42.",
            },
        ]
    ),
}

# templates that refuse tool turns (raise_exception) are not run on the tool conversation
TOOL_TEMPLATES = ("chatml", "qwen2.5", "qwen3", "qwen3-nothink", "llama3", "default")


def hf_messages(s: Sample, *, reasoning: bool = True) -> list[dict[str, Any]]:
    """The same conversation written the way transformers' own users write it."""
    out = []
    for m in s.messages:
        d: dict[str, Any] = {"role": m.role, "content": m.content}
        if reasoning and m.reasoning is not None:
            d["reasoning_content"] = m.reasoning
        if m.tool_calls:
            d["tool_calls"] = [
                {"type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in m.tool_calls
            ]
        if m.name is not None:
            d["name"] = m.name
        out.append(d)
    return out
