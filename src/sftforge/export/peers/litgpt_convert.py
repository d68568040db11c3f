"""Convert a Hugging Face model folder into LitGPT's checkpoint format, once.

    python convert_checkpoint.py MODEL_DIR CHECKPOINT_DIR

Written into a LitGPT export folder by ``sftforge export --for litgpt`` and run by its
``finetune_lora.sh`` with LitGPT's own Python; it imports only the standard library and LitGPT.

LitGPT trains from ``lit_model.pth`` + ``model_config.yaml`` in a checkpoint folder that also holds
the tokenizer files. ``CHECKPOINT_DIR`` gets links to the model's files (the model folder itself
is never written to), then LitGPT's own converter (``convert_hf_checkpoint``, what
``litgpt convert_to_litgpt`` runs) writes the two files there:

* when LitGPT knows the model by its folder name (``Qwen2.5-0.5B-Instruct``,
  ``Llama-3.2-1B``...), with LitGPT's own config for it, exactly ``litgpt convert_to_litgpt``;
* otherwise, for a Llama-architecture model (``model_type: llama`` in ``config.json``: a custom or
  tiny Llama), with a LitGPT config made from ``config.json`` and registered under the folder's
  name for this run only, so the same converter and weight mapping (``copy_weights_hf_llama``)
  apply. Other architectures LitGPT does not know stop here with a message.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _link_model(model: Path, ckpt: Path) -> None:
    ckpt.mkdir(parents=True, exist_ok=True)
    for f in model.iterdir():
        target = ckpt / f.name
        if f.is_file() and not target.exists():
            target.symlink_to(f.resolve())


def _llama_config(name: str, hf: dict) -> dict:
    """LitGPT's config for a plain Llama (the fields LitGPT's own Llama entries set)."""
    if hf.get("model_type") != "llama":
        raise SystemExit(
            f"LitGPT has no config named {name!r} and the model is not a Llama "
            f"(model_type {hf.get('model_type')!r}): rename the folder to the LitGPT name of its "
            "model (`litgpt download list` shows them) or add a config to LitGPT."
        )
    rope = hf.get("rope_parameters") or hf.get("rope_scaling") or {}
    if rope.get("rope_type", rope.get("type", "default")) not in ("default", None):
        raise SystemExit(
            f"{name}: rope scaling {rope!r} is not converted here; use a LitGPT config."
        )
    if hf.get("tie_word_embeddings"):
        raise SystemExit(f"{name}: tied embeddings are not converted here; use a LitGPT config.")
    heads = hf["num_attention_heads"]
    return {
        "name": name,
        "hf_config": {"org": "local", "name": name},
        "block_size": hf.get("max_position_embeddings", 4096),
        "vocab_size": hf["vocab_size"],
        "padded_vocab_size": hf["vocab_size"],
        "padding_multiple": 1,
        "n_layer": hf["num_hidden_layers"],
        "n_head": heads,
        "n_embd": hf["hidden_size"],
        "head_size": hf.get("head_dim") or hf["hidden_size"] // heads,
        "n_query_groups": hf.get("num_key_value_heads", heads),
        "rotary_percentage": 1.0,
        "parallel_residual": False,
        "bias": bool(hf.get("attention_bias", False)),
        "norm_class_name": "RMSNorm",
        "norm_eps": hf.get("rms_norm_eps", 1e-5),
        "mlp_class_name": "LLaMAMLP",
        "intermediate_size": hf["intermediate_size"],
        "rope_base": int(rope.get("rope_theta", hf.get("rope_theta", 10000))),
    }


def main() -> None:
    model, ckpt = Path(sys.argv[1]).expanduser(), Path(sys.argv[2])
    if (ckpt / "lit_model.pth").is_file():
        print(f"{ckpt} is already converted")
        return
    if not (model / "config.json").is_file():
        raise SystemExit(f"{model} is not a Hugging Face model folder (no config.json)")
    _link_model(model, ckpt)

    import litgpt.config as lit_config
    from litgpt.scripts.convert_hf_checkpoint import convert_hf_checkpoint

    name = ckpt.name
    try:
        lit_config.Config.from_name(name)
    except ValueError:
        hf = json.loads((model / "config.json").read_text(encoding="utf-8"))
        lit_config.name_to_config[name] = _llama_config(name, hf)
        print(f"LitGPT has no config named {name!r}: using one made from config.json (Llama)")
    convert_hf_checkpoint(ckpt, model_name=name)


if __name__ == "__main__":
    main()
