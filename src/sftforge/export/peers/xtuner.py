"""Peer check for ``sftforge export --for xtuner``: XTuner 0.2's own rows (and one step) from an
export folder, with XTuner's Python. Standalone: the standard library and XTuner's packages only.

    XTUNER_PYTHON xtuner.py EXPORT_DIR OUT_JSONL [--step]      (run with cwd = EXPORT_DIR)

The rows: the exported config is loaded as written with mmengine's ``Config.fromfile`` (which
fills in ``{{ fileDirname }}``) and its ``train_dataloader.dataset`` is built with XTuner's
``BUILDER``, as XTuner's own ``xtuner log-dataset`` does: ``load_dataset`` -> ``openai_map_fn``
-> ``template_map_fn`` -> ``encode_fn`` -> the filter of rows without a trained token. One JSON
line per row, in the dataset's order: ``{"input_ids", "labels"}``; XTuner's labels are already
unshifted with -100 where there is no loss (``IGNORE_INDEX``), so they are written as they are.
When the config packs rows (``pack_to_max_length = True``) the rows are taken before packing (the
packer concatenates them in a random order), which a note says.

``--step``: ``xtuner train``'s own entry point (``xtuner.tools.train.main``) on the config with
the overrides one step needs: ``train_cfg`` of one iteration (one optimizer step: mmengine
updates on the last iteration whatever ``accumulative_counts`` is), a temporary ``--work-dir``,
no last checkpoint. The config picks CPU or CUDA itself. The loss is the runner's last
``train/loss``. The last stdout line is the JSON summary the hand-over check reads; when XTuner
cannot read the export at all it has ``"rows": null`` and XTuner's ``"error"``, and the exit
code is 1.

XTuner's ``xtuner.dataset`` imports torchvision (for its InternVL dataset) at import time; where
torchvision is missing or does not load against the installed torch, the names that import
touches are stubbed (text SFT uses none of them), and a note says so.
"""

from __future__ import annotations

import importlib.machinery
import json
import sys
import tempfile
import traceback
import types
from pathlib import Path

CONFIG = "xtuner_qlora_config.py"
# this file is named xtuner.py: its own folder must not shadow the xtuner package
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]


def _torchvision_stub(notes: list[str]) -> None:
    """Stand-ins for the torchvision names ``xtuner.dataset`` imports, when it cannot load."""
    try:
        import torchvision.transforms
        import torchvision.transforms.functional  # noqa: F401

        return
    except Exception as exc:  # missing, or a build that does not match torch
        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]
        why = f"{type(exc).__name__}: {exc}".splitlines()[0]
    import datasets  # noqa: F401  # first, so that it sees torchvision missing (no image features)

    root = types.ModuleType("torchvision")
    root.__version__ = "none (stub)"  # type: ignore[attr-defined]  # mmengine logs it
    transforms = types.ModuleType("torchvision.transforms")
    functional = types.ModuleType("torchvision.transforms.functional")
    functional.InterpolationMode = type("InterpolationMode", (), {"BICUBIC": 3})  # type: ignore[attr-defined]
    root.transforms = transforms  # type: ignore[attr-defined]
    transforms.functional = functional  # type: ignore[attr-defined]
    for module in (root, transforms, functional):
        module.__spec__ = importlib.machinery.ModuleSpec(module.__name__, None)
    sys.modules.update(
        {
            "torchvision": root,
            "torchvision.transforms": transforms,
            "torchvision.transforms.functional": functional,
        }
    )
    notes.append(
        f"torchvision stubbed for xtuner.dataset's import (text SFT does not use it): {why}"
    )


def rows(export_dir: Path, out: Path, notes: list[str]) -> int:
    """XTuner's train rows of the exported config, written to ``out``; the row count."""
    from mmengine.config import Config
    from xtuner.registry import BUILDER

    cfg = Config.fromfile(str(export_dir / CONFIG))
    dataset_cfg = cfg.train_dataloader.dataset
    if dataset_cfg.get("pack_to_max_length", True):
        dataset_cfg = dict(dataset_cfg, pack_to_max_length=False)
        notes.append("the config packs rows: the rows are XTuner's before packing")
    dataset = BUILDER.build(dataset_cfg)
    n = 0
    with out.open("w", encoding="utf-8") as fh:
        for row in dataset:
            fh.write(json.dumps({"input_ids": row["input_ids"], "labels": row["labels"]}) + "\n")
            n += 1
    return n


def step(export_dir: Path) -> dict[str, object]:
    """One optimizer step through ``xtuner train``'s own ``main``; the last loss."""
    from mmengine.runner import Runner
    from xtuner.tools import train

    runners: list[Runner] = []
    original = Runner.train

    def train_and_keep(self: Runner) -> object:
        runners.append(self)
        return original(self)

    Runner.train = train_and_keep
    with tempfile.TemporaryDirectory(prefix="xtuner-step-") as work:
        argv = sys.argv
        sys.argv = [
            "train.py",
            str(export_dir / CONFIG),
            "--work-dir",
            work,
            "--cfg-options",
            "train_cfg.max_epochs=None",
            "train_cfg.max_iters=1",
            "default_hooks.checkpoint.save_last=False",
        ]
        try:
            train.main()
        finally:
            sys.argv = argv
            Runner.train = original
    loss = runners[-1].message_hub.get_scalar("train/loss").current()
    return {"ok": True, "loss": float(loss)}


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--step"]
    if len(args) != 2:
        sys.exit("usage: xtuner.py EXPORT_DIR OUT_JSONL [--step]")
    export_dir, out = Path(args[0]).resolve(), Path(args[1]).resolve()
    notes: list[str] = []
    _torchvision_stub(notes)
    import xtuner

    trainer = f"xtuner {xtuner.__version__}"
    try:
        n = rows(export_dir, out, notes)
    except Exception as exc:  # XTuner could not read the export: its error, as the last line
        traceback.print_exc()
        error = f"{type(exc).__name__}: {exc}".splitlines()[0]
        if "TokenizersBackend" in error:
            notes.append(
                "the model's tokenizer was saved by transformers 5; XTuner's transformers 4.48 "
                'reads it once tokenizer_config.json says "tokenizer_class": '
                '"PreTrainedTokenizerFast" (and its extra_special_tokens list is '
                "additional_special_tokens)"
            )
        summary: dict[str, object] = {"trainer": trainer, "rows": None, "error": error}
        summary.update(step=None, notes=notes)
        print(json.dumps(summary, ensure_ascii=False))
        sys.exit(1)
    result: dict[str, object] | None = None
    if "--step" in sys.argv[1:]:
        try:
            result = step(export_dir)
        except Exception as exc:  # the trainer's own error is the answer
            traceback.print_exc()
            error = f"{type(exc).__name__}: {exc}"
            result = {"ok": False, "error": error}
            if "is_bf16_supported" in error:  # XTuner 0.2.0 on a machine without CUDA/NPU
                result["error"] = (
                    "XTuner cannot build its model without CUDA or NPU: "
                    "SupervisedFinetune._prepare_for_flash_attn calls "
                    f"get_torch_device().is_bf16_supported(), torch.cpu has none ({error})"
                )
                # the trainer's own CPU limitation, not a fault of the export: said so
                result["cpu_limitation"] = True
    summary = {"trainer": trainer, "rows": n, "step": result, "notes": notes}
    print(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    main()
