"""A tiny random Llama with the bundled minimind tokenizer, saved as a Hugging Face model folder.

The hand-over bench gives it to every trainer as ``--model``: small enough that one training step
takes seconds on a CPU, real enough that each trainer loads it with its own code (config,
safetensors weights, tokenizer with its chat template). The weights are stored in bfloat16, as the
models people fine-tune are, so an export that assumes a bf16 GPU shows it on a CPU.

    python bench/_tiny_model.py OUTDIR        # (re)builds OUTDIR
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from _shared import SHARED_DATA

MINIMIND = SHARED_DATA / "tokenizers" / "minimind"


def build_tiny_llama(outdir: Path, *, seed: int = 0) -> Path:
    """Write the model folder (config, weights, tokenizer, generation config); return it."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    outdir = Path(outdir)
    if outdir.exists():
        shutil.rmtree(outdir)
    tok = AutoTokenizer.from_pretrained(str(MINIMIND))
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(str(outdir), safe_serialization=True)
    tok.save_pretrained(str(outdir))
    _readable_by_older_transformers(outdir, tok.chat_template)
    return outdir


def _readable_by_older_transformers(outdir: Path, chat_template: str) -> None:
    """transformers 5 saves ``tokenizer_class: TokenizersBackend``, ``extra_special_tokens`` and
    the template in ``chat_template.jinja``; trainers pinned to transformers 4.x (XTuner 0.2.0:
    4.48) know none of them. The 4.x spellings load the same tokenizer in transformers 5."""
    path = outdir / "tokenizer_config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    if "extra_special_tokens" in config:
        config["additional_special_tokens"] = config.pop("extra_special_tokens")
    config["chat_template"] = chat_template
    path.write_text(json.dumps(config, ensure_ascii=False, indent=2), encoding="utf-8")


if __name__ == "__main__":
    print(build_tiny_llama(Path(sys.argv[1])))
