"""Shared by the ``_peer_*.py`` scripts, which run inside the peers' own virtual environments
(plain standard library only: nothing from sftforge is importable there)."""

import json
import sys
from collections.abc import Callable
from typing import Any


def write_rows(path: str, ds: Any) -> None:
    """A tokenized dataset's ``input_ids``/``labels`` as JSON lines, for the comparison."""
    with open(path, "w", encoding="utf-8") as f:
        for ids, labels in zip(ds["input_ids"], ds["labels"], strict=True):
            f.write(json.dumps({"input_ids": ids, "labels": labels}) + "\n")


def main(run: Callable[[dict], float]) -> None:
    """Run every job in the JSON file named on the command line; print their timings."""
    with open(sys.argv[1], encoding="utf-8") as f:
        jobs = json.load(f)
    print(json.dumps([run(job) for job in jobs]))
