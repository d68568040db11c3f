"""Runs INSIDE LLaMA-Factory's own virtual environment: its real SFT preprocessing on one dataset.

argv[1] is a JSON file holding a list of jobs: {tokenizer, dataset_dir, dataset, template,
cutoff_len, options, out}.
Loads the tokenizer with LLaMA-Factory's ``load_tokenizer``, fixes it with
``get_template_and_fix_tokenizer`` and runs ``get_dataset(stage="sft")`` (converter + template +
``SupervisedDatasetProcessor``), then writes one JSON line per row: input_ids, labels. Prints the
seconds ``get_dataset`` took per job as a JSON list, the last line of stdout.
"""

import importlib.machinery
import sys
import tempfile
import time
import types

from _peer_common import main, write_rows

# LLaMA-Factory imports torchaudio at module level for audio inputs; no torchaudio wheel matches
# the pinned torch, and audio is never used here, so an empty module stands in for it.
_ta = types.ModuleType("torchaudio")
_ta.__spec__ = importlib.machinery.ModuleSpec("torchaudio", None)
sys.modules.setdefault("torchaudio", _ta)

from llamafactory.data import get_dataset, get_template_and_fix_tokenizer  # noqa: E402
from llamafactory.hparams import get_train_args  # noqa: E402
from llamafactory.model import load_tokenizer  # noqa: E402


def run(job: dict) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        args = {
            "stage": "sft",
            "do_train": True,
            "model_name_or_path": job["tokenizer"],
            "dataset": job["dataset"],
            "dataset_dir": job["dataset_dir"],
            "cutoff_len": job["cutoff_len"],
            "output_dir": tmp,
            "overwrite_cache": True,
            "finetuning_type": "lora",
            "report_to": "none",
            **({"template": job["template"]} if job.get("template") else {}),
            **job.get("options", {}),
        }
        model_args, data_args, training_args, _, _ = get_train_args(args)
        tm = load_tokenizer(model_args)
        t0 = time.perf_counter()
        template = get_template_and_fix_tokenizer(tm["tokenizer"], data_args)
        module = get_dataset(template, model_args, data_args, training_args, stage="sft", **tm)
        seconds = time.perf_counter() - t0
        ds = module["train_dataset"]
        write_rows(job["out"], ds)
    return seconds


if __name__ == "__main__":
    main(run)
