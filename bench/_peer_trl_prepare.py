"""Runs INSIDE TRL's venv: TRL's dataset preparation as a whole process, file to file.

argv: DATA.jsonl TOKENIZER_DIR MAX_LENGTH OUT.parquet. Loads the tokenizer and the JSONL
(``messages``) as ``trl sft`` does, lets ``SFTTrainer`` prepare it (chat template, tokenization,
truncation; TRL's defaults otherwise) and writes ``input_ids``/``labels`` to Parquet. SFTTrainer
needs a model object: a tiny random Llama (its weights never matter; building it is part of the
cost a user pays too, with a real model far more). Labels are what TRL's collator would train on
with its defaults (every token: ``assistant_only_loss`` and ``completion_only_loss`` do not apply
to the ``messages`` layout by default).
"""

import sys
import tempfile

from datasets import load_dataset
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM
from trl import SFTConfig, SFTTrainer


def main() -> None:
    data, tokenizer, max_length, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    tok = AutoTokenizer.from_pretrained(tokenizer)
    cfg = LlamaConfig(
        vocab_size=len(tok), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=4096,
    )  # fmt: skip
    ds = load_dataset("json", data_files=data, split="train")
    with tempfile.TemporaryDirectory() as tmp:
        args = SFTConfig(output_dir=tmp, report_to="none", max_length=max_length, use_cpu=True)
        trainer = SFTTrainer(
            model=LlamaForCausalLM(cfg), args=args, train_dataset=ds, processing_class=tok
        )
        prepared = trainer.train_dataset
        labels = prepared["input_ids"]  # TRL's default: loss on every token
        prepared = prepared.select_columns(["input_ids"]).add_column("labels", labels)
        prepared.to_parquet(out)


if __name__ == "__main__":
    main()
