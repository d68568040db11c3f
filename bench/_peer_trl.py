"""Runs INSIDE TRL's own virtual environment: SFTTrainer's real dataset preparation.

argv[1] is a JSON file holding a list of jobs: {tokenizer, chat_template, data, max_length,
truncation_mode, assistant_only_loss, completion_only_loss, out}. For each, a tiny random Llama
is built (preparation needs a model object; its weights never matter), SFTTrainer prepares the
JSONL dataset, and one JSON line per row (input_ids, labels) is written. Prints the seconds each
preparation took as a JSON list, the last line of stdout.
"""

import tempfile
import time

from _peer_common import main, write_rows
from datasets import load_dataset
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM
from trl import SFTConfig, SFTTrainer


def run(job: dict) -> float:
    tok = AutoTokenizer.from_pretrained(job["tokenizer"])
    tok.chat_template = job["chat_template"]
    cfg = LlamaConfig(
        vocab_size=len(tok), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=4096,
    )  # fmt: skip
    model = LlamaForCausalLM(cfg)
    data = load_dataset("json", data_files=job["data"], split="train")
    with tempfile.TemporaryDirectory() as tmp:
        args = SFTConfig(
            output_dir=tmp,
            report_to="none",
            max_length=job["max_length"],
            truncation_mode=job["truncation_mode"],
            assistant_only_loss=job["assistant_only_loss"],
            completion_only_loss=job["completion_only_loss"],
            use_cpu=True,
        )
        t0 = time.perf_counter()
        trainer = SFTTrainer(model=model, args=args, train_dataset=data, processing_class=tok)
        seconds = time.perf_counter() - t0
        ds = trainer.train_dataset
        write_rows(job["out"], ds)
    return seconds


if __name__ == "__main__":
    main(run)
