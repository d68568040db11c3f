"""Runs INSIDE TRL's venv: check an ``export --for trl`` folder with TRL itself.

argv[1] is the export folder: ``train_trl.sh``'s ``trl sft`` arguments must parse with TRL's own
``TrlParser((ScriptArguments, SFTConfig, ModelConfig))`` (``--bf16 False``: what the script's
precision line gives on a CPU machine),
and the data folder must load with ``datasets.load_dataset`` as ``trl sft`` loads it.
"""

import shlex
import sys
from pathlib import Path

from datasets import load_dataset
from trl import ModelConfig, ScriptArguments, SFTConfig, TrlParser


def main() -> None:
    folder = Path(sys.argv[1])
    # the `trl sft` command, after the preamble (the cd, the precision line); the shell's own
    # "$BF16" (set by the preamble) and "$@" (extra arguments) are not TRL arguments
    text = (folder / "train_trl.sh").read_text(encoding="utf-8")
    words = shlex.split(text[text.index("trl sft") :].replace("\\\n", " "))[2:]
    args = [w for w in words if w not in ("$@", "$BF16")]
    args = [*args[: args.index("--bf16")], *args[args.index("--bf16") + 1 :], "--bf16", "False"]
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
