"""Runs INSIDE TRL's venv: check an ``export --for trl`` folder with TRL itself.

argv[1] is the export folder: ``train_trl.sh``'s ``trl sft`` arguments must parse with TRL's own
``TrlParser((ScriptArguments, SFTConfig, ModelConfig))`` (``--bf16 False`` added: CPU machine),
and the data folder must load with ``datasets.load_dataset`` as ``trl sft`` loads it.
"""

import shlex
import sys
from pathlib import Path

from datasets import load_dataset
from trl import ModelConfig, ScriptArguments, SFTConfig, TrlParser


def main() -> None:
    folder = Path(sys.argv[1])
    # after the shebang, `set -euo pipefail` and the `cd` to the script's folder
    text = (folder / "train_trl.sh").read_text(encoding="utf-8").split("\n", 3)[3]
    args = [*shlex.split(text.replace("\\\n", " "))[2:], "--bf16", "False"]  # after `trl sft`
    parser = TrlParser((ScriptArguments, SFTConfig, ModelConfig))
    script_args, training_args, _model_args, rest = parser.parse_args_and_config(
        args, return_remaining_strings=True
    )
    if rest:
        sys.exit(f"TRL does not know: {rest}")
    ds = load_dataset(str(folder / script_args.dataset_name), split="train")  # relative to it
    print(
        f"dataset={script_args.dataset_name} assistant_only_loss={training_args.assistant_only_loss} rows={ds.num_rows}"
    )


if __name__ == "__main__":
    main()
