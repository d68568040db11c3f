"""Runs INSIDE ms-swift's venv: check an ``export --for swift`` folder with ms-swift itself.

argv[1] is the export folder: its ``train_swift.sh`` arguments (read by running the script with a
stand-in ``swift``, as src/sftforge/export/peers/swift.py does: the script decides the precision
on the machine) must all parse with ms-swift's ``SftArguments`` parser, and ``train.jsonl`` must
load with ``swift.dataset.load_dataset``.
Prints the parsed model/tuner/dataset and the row count.
"""

import importlib.util
import sys
from pathlib import Path

from swift.arguments import SftArguments
from swift.dataset import load_dataset
from transformers import HfArgumentParser


def _peer():
    """The export's own check script (standalone: ms-swift and the standard library only)."""
    path = Path(__file__).resolve().parents[1] / "src/sftforge/export/peers/swift.py"
    spec = importlib.util.spec_from_file_location("sftforge_swift_peer", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    folder = Path(sys.argv[1])
    args = _peer().script_args(folder)  # after `swift sft`
    ns, unknown = HfArgumentParser(SftArguments).parse_known_args(args)
    if unknown:
        sys.exit(f"ms-swift does not know: {unknown}")
    train, _ = load_dataset(
        [str(folder / "train.jsonl")], split_dataset_ratio=0.0
    )  # relative in the script
    print(f"model={ns.model} tuner_type={ns.tuner_type} dataset={ns.dataset} rows={len(train)}")


if __name__ == "__main__":
    main()
