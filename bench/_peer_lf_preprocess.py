"""Runs INSIDE LLaMA-Factory's venv: LLaMA-Factory's SFT preprocessing as a whole process, file to
file — what ``llamafactory-cli train CONFIG`` does before it loads the model (``run_sft``: argument
parsing, ``load_tokenizer``, ``get_template_and_fix_tokenizer``, ``get_dataset``), with
``tokenized_path`` set so the tokenized dataset is saved to disk. LLaMA-Factory 0.9.5 has no
preprocess-only command (it goes on to load the model and train after saving), so this script stops
where the training would begin.

torchaudio, which LLaMA-Factory imports at start for audio inputs, has no wheel matching the
pinned torch, so an empty module stands in for it (audio is never used). argv[1]: the config
(YAML or JSON).
"""

import importlib.machinery
import sys
import types

_ta = types.ModuleType("torchaudio")
_ta.__spec__ = importlib.machinery.ModuleSpec("torchaudio", None)
sys.modules.setdefault("torchaudio", _ta)

import yaml  # noqa: E402
from llamafactory.data import get_dataset, get_template_and_fix_tokenizer  # noqa: E402
from llamafactory.hparams import get_train_args  # noqa: E402
from llamafactory.model import load_tokenizer  # noqa: E402

if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as f:
        cfg = yaml.safe_load(f)
    model_args, data_args, training_args, _, _ = get_train_args(cfg)
    tm = load_tokenizer(model_args)
    template = get_template_and_fix_tokenizer(tm["tokenizer"], data_args)
    get_dataset(template, model_args, data_args, training_args, stage="sft", **tm)
