"""merge: the merged folder's logits equal base+adapter's, and it holds what a loader needs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from sftforge.cli.main import main
from sftforge.errors import InputError
from sftforge.train.merge import merge_adapter
from tiny_adapter import build_tiny_adapter
from tiny_models import build_tiny_model

IDS = torch.tensor([[3, 17, 42, 99, 7, 250, 11, 5]])


@pytest.mark.parametrize("arch", ["llama", "qwen2"])
def test_merged_logits_equal_base_plus_adapter(tmp_path: Path, arch: str) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = build_tiny_model(tmp_path / "base", arch)
    adapter = build_tiny_adapter(base, tmp_path / "adapter")
    result = merge_adapter(adapter, tmp_path / "merged")

    plain = AutoModelForCausalLM.from_pretrained(str(base), local_files_only=True).eval()
    with_adapter = PeftModel.from_pretrained(plain, str(adapter)).eval()
    merged = AutoModelForCausalLM.from_pretrained(result.out, local_files_only=True).eval()
    with torch.no_grad():
        want = with_adapter(input_ids=IDS).logits
        got = merged(input_ids=IDS).logits
        base_logits = with_adapter.get_base_model()
        with with_adapter.disable_adapter():
            untouched = base_logits(input_ids=IDS).logits
    assert not torch.allclose(untouched, want, atol=1e-4)  # the adapter does change the model
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_merged_folder_holds_tokenizer_template_and_generation_config(tmp_path: Path) -> None:
    from transformers import AutoTokenizer, GenerationConfig

    base = build_tiny_model(tmp_path / "base", "qwen2")
    adapter = build_tiny_adapter(base, tmp_path / "adapter")
    out = tmp_path / "merged"
    assert main(["merge", str(adapter), "--out", str(out)]) == 0
    names = {p.name for p in out.iterdir()}
    assert {"config.json", "model.safetensors", "generation_config.json"} <= names
    assert "adapter_config.json" not in names
    tok = AutoTokenizer.from_pretrained(str(out), local_files_only=True)
    base_tok = AutoTokenizer.from_pretrained(str(base), local_files_only=True)
    assert tok.chat_template == base_tok.chat_template
    gen = GenerationConfig.from_pretrained(str(out), local_files_only=True)
    eos = gen.eos_token_id if isinstance(gen.eos_token_id, list) else [gen.eos_token_id]
    assert tok.convert_tokens_to_ids("<|im_end|>") in eos
    record = json.loads((out / "sftforge_merge.json").read_text(encoding="utf-8"))
    assert record["adapter"] == str(adapter) and record["base"] == str(base)


def test_merge_refuses_a_non_empty_out_and_a_plain_model(tmp_path: Path, capsys) -> None:
    base = build_tiny_model(tmp_path / "base", "llama")
    adapter = build_tiny_adapter(base, tmp_path / "adapter")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.txt").write_text("keep me")
    assert main(["merge", str(adapter), "--out", str(tmp_path / "full")]) == 1
    err = capsys.readouterr().err
    assert "exists and is not an empty folder" in err and "pass a new folder" in err
    with pytest.raises(InputError, match="not a LoRA adapter folder"):
        merge_adapter(base, tmp_path / "m2")
    with pytest.raises(InputError, match="is the base folder"):
        merge_adapter(adapter, base)
    assert (tmp_path / "full" / "x.txt").read_text() == "keep me"


def test_an_adapter_whose_base_is_gone_asks_for_base(tmp_path: Path) -> None:
    base = build_tiny_model(tmp_path / "base", "llama")
    adapter = build_tiny_adapter(base, tmp_path / "adapter")
    config = json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8"))
    config["base_model_name_or_path"] = str(tmp_path / "moved")
    (adapter / "adapter_config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(InputError, match="names no local base model folder") as err:
        merge_adapter(adapter, tmp_path / "m")
    assert err.value.hint == "pass --base FOLDER, the model the adapter was trained on"
    assert merge_adapter(adapter, tmp_path / "m", base=base).base == str(base)
