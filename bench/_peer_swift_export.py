"""Runs INSIDE ms-swift's venv: check an ``export --for swift`` folder with ms-swift itself.

argv[1] is the export folder: its ``train_swift.sh`` arguments must all parse with ms-swift's
``SftArguments`` parser, and ``train.jsonl`` must load with ``swift.dataset.load_dataset``.
Prints the parsed model/tuner/dataset and the row count.
"""

import shlex
import sys
from pathlib import Path

from swift.arguments import SftArguments
from swift.dataset import load_dataset
from transformers import HfArgumentParser


def main() -> None:
    folder = Path(sys.argv[1])
    # after the shebang, `set -euo pipefail` and the `cd` to the script's folder
    text = (folder / "train_swift.sh").read_text(encoding="utf-8").split("\n", 3)[3]
    args = shlex.split(text.replace("\\\n", " "))[2:]  # after `swift sft`
    ns, unknown = HfArgumentParser(SftArguments).parse_known_args(args)
    if unknown:
        sys.exit(f"ms-swift does not know: {unknown}")
    train, _ = load_dataset(
        [str(folder / "train.jsonl")], split_dataset_ratio=0.0
    )  # relative in the script
    print(f"model={ns.model} tuner_type={ns.tuner_type} dataset={ns.dataset} rows={len(train)}")


if __name__ == "__main__":
    main()
