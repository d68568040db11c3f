"""Runs INSIDE LLaMA-Factory's venv: load an ``export --for llamafactory`` YAML with LLaMA-Factory.

argv[1] is the training YAML, used as written (it sets no precision, so it loads on a CPU):
``get_train_args`` validates it, ``get_dataset`` reads the data through the exported
``dataset_info.json`` entry. Prints ``rows N``.
"""

import importlib.machinery
import sys
import types

import yaml

# no torchaudio wheel matches the pinned torch; audio is never used here
_ta = types.ModuleType("torchaudio")
_ta.__spec__ = importlib.machinery.ModuleSpec("torchaudio", None)
sys.modules.setdefault("torchaudio", _ta)

from llamafactory.data import get_dataset, get_template_and_fix_tokenizer  # noqa: E402
from llamafactory.hparams import get_train_args  # noqa: E402
from llamafactory.model import load_tokenizer  # noqa: E402


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as f:
        cfg = yaml.safe_load(f)
    model_args, data_args, training_args, _, _ = get_train_args(cfg)
    tm = load_tokenizer(model_args)
    template = get_template_and_fix_tokenizer(tm["tokenizer"], data_args)
    ds = get_dataset(template, model_args, data_args, training_args, stage="sft", **tm)[
        "train_dataset"
    ]
    print(f"rows {len(ds)}")


if __name__ == "__main__":
    main()
