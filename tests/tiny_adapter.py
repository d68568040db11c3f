"""A LoRA adapter for a tiny model, made with peft directly (no sftforge training), for the merge,
chat and eval tests: random A and B (so the adapter changes the logits) and then ``steps`` AdamW
steps on ``texts`` (so the tuned model has learned something a test can see: lower loss on them).
Import it as ``tiny_adapter`` (``tests/`` is on the path through its conftest).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["build_tiny_adapter"]


def build_tiny_adapter(
    base: Path,
    out: Path,
    *,
    texts: tuple[str, ...] = (),
    steps: int = 0,
    seed: int = 0,
    lr: float = 1e-2,
) -> Path:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(str(base), local_files_only=True)
    config = LoraConfig(
        r=4,
        lora_alpha=8,
        target_modules=["q_proj", "v_proj", "up_proj"],
        init_lora_weights=False,  # random B too: the untrained adapter already moves the logits
        task_type="CAUSAL_LM",
    )
    peft_model = get_peft_model(model, config)
    if steps and texts:
        tok = AutoTokenizer.from_pretrained(str(base), local_files_only=True)
        batch = [torch.tensor([tok.encode(t, add_special_tokens=False)]) for t in texts]
        opt = torch.optim.AdamW([p for p in peft_model.parameters() if p.requires_grad], lr=lr)
        peft_model.train()
        for step in range(steps):
            ids = batch[step % len(batch)]
            loss = peft_model(input_ids=ids, labels=ids).loss
            loss.backward()
            opt.step()
            opt.zero_grad()
    peft_model.save_pretrained(out)
    return out
