"""Load an ``export --for llamafactory`` folder with LLaMA-Factory itself; optionally train one step.

    LLAMAFACTORY_PYTHON llamafactory.py EXPORT_DIR OUT_JSONL [--step]      (cwd = EXPORT_DIR)

Runs with LLaMA-Factory's python and imports only the standard library and LLaMA-Factory (never
sftforge). ``train_lora_sft.yaml`` is read the way ``llamafactory-cli train train_lora_sft.yaml``
reads it (``read_args``: OmegaConf, no edits), then LLaMA-Factory's own data preparation for the
train split runs as ``run_sft`` does it (``get_train_args``, ``load_tokenizer``,
``get_template_and_fix_tokenizer``, ``get_dataset(stage="sft")``). One JSON line per row it keeps,
in its order, goes to OUT_JSONL: ``{"input_ids": [...], "labels": [...]}``. LLaMA-Factory's
``labels`` are already unshifted with -100 (IGNORE_INDEX) where there is no loss, so they are
written as they are.

``--step``: then ``run_exp`` (what ``llamafactory-cli train`` calls on one device) with the same
config and only what a one-step run needs: ``max_steps: 1``, ``output_dir`` in a temporary folder
(deleted after), ``save_strategy: "no"``, ``logging_steps: 1``. Precision and everything else stay
as exported, so on a CPU this shows whether the config starts there.

The last stdout line is one JSON object: ``{"trainer": "llamafactory X.Y.Z", "rows": N, "step":
null | {"ok": true, "loss": float} | {"ok": false, "error": "..."}, "notes": [...]}``; when the
config does not even load (LLaMA-Factory refuses it on this machine), ``rows`` is 0, ``error`` holds
LLaMA-Factory's message and the exit status is 1.
"""

import argparse
import importlib.machinery
import json
import os
import sys
import tempfile
import types
from typing import Any

# this file is named after the trainer: Python puts its folder first on sys.path, where it would
# shadow the real ``llamafactory`` package
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

CONFIG = "train_lora_sft.yaml"


def _torchaudio(notes: list[str]) -> None:
    """LLaMA-Factory imports torchaudio at module level (data/mm_plugin.py, for audio inputs);
    its pip install brings one. Where none imports (e.g. no wheel matches the installed torch),
    an empty module stands in: audio is never used for text SFT, and the tokens do not depend on
    it."""
    try:
        import torchaudio  # noqa: F401

        return
    except Exception as exc:  # a broken install raises OSError/RuntimeError, not only ImportError
        for name in [m for m in sys.modules if m == "torchaudio" or m.startswith("torchaudio.")]:
            del sys.modules[name]
        reason = f"{type(exc).__name__}: {str(exc)[:120]}"
    stub = types.ModuleType("torchaudio")
    stub.__spec__ = importlib.machinery.ModuleSpec("torchaudio", None)
    sys.modules["torchaudio"] = stub
    notes.append(
        f"torchaudio does not import here ({reason}); an empty module stands in (text only)"
    )


def _config() -> dict[str, Any]:
    """The YAML exactly as ``llamafactory-cli train train_lora_sft.yaml`` reads it."""
    from llamafactory.hparams import read_args

    argv = sys.argv
    sys.argv = ["llamafactory-cli", CONFIG]
    try:
        return dict(read_args())
    finally:
        sys.argv = argv


def _rows(cfg: dict[str, Any], out_path: str) -> int:
    """``run_sft``'s data preparation for the train split; the rows written to ``out_path``."""
    from llamafactory.data import get_dataset, get_template_and_fix_tokenizer
    from llamafactory.hparams import get_train_args
    from llamafactory.model import load_tokenizer

    model_args, data_args, training_args, _, _ = get_train_args(dict(cfg))
    tokenizer_module = load_tokenizer(model_args)
    template = get_template_and_fix_tokenizer(tokenizer_module["tokenizer"], data_args)
    module = get_dataset(
        template, model_args, data_args, training_args, stage="sft", **tokenizer_module
    )
    ds = module["train_dataset"]
    with open(out_path, "w", encoding="utf-8") as f:
        for row in ds:
            f.write(json.dumps({"input_ids": row["input_ids"], "labels": row["labels"]}) + "\n")
    return len(ds)


def _step(cfg: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    """One optimizer step with LLaMA-Factory's own entry point; the logged loss."""
    from llamafactory.train.tuner import run_exp
    from transformers import TrainerCallback

    seen: dict[str, Any] = {}

    class Seen(TrainerCallback):
        def on_train_begin(self, args, state, control, model=None, **kwargs):
            if model is not None:
                frozen = next((p for p in model.parameters() if not p.requires_grad), None)
                trained = next((p for p in model.parameters() if p.requires_grad), None)
                seen["dtypes"] = (
                    f"device {args.device}, bf16={args.bf16}, fp16={args.fp16}, "
                    f"weights {getattr(frozen, 'dtype', None)}, "
                    f"trained params {getattr(trained, 'dtype', None)}"
                )

        def on_log(self, args, state, control, logs=None, **kwargs):
            for key in ("loss", "train_loss"):
                if logs and key in logs and key not in seen:
                    seen[key] = float(logs[key])
            seen["steps"] = state.global_step

    with tempfile.TemporaryDirectory() as tmp:
        args = dict(cfg)
        args |= {"max_steps": 1, "output_dir": tmp, "save_strategy": "no", "logging_steps": 1}
        try:
            run_exp(args=args, callbacks=[Seen()])
        except Exception as exc:  # the trainer's own error is the result
            return {"ok": False, "error": f"{type(exc).__name__}: {str(exc)[:500]}"}
    if "dtypes" in seen:
        notes.append("step: " + seen["dtypes"])
    loss = seen.get("loss", seen.get("train_loss"))
    if loss is None or seen.get("steps") != 1:
        return {"ok": False, "error": f"no loss logged after one step ({seen})"}
    return {"ok": True, "loss": loss}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("export_dir")
    parser.add_argument("out_jsonl")
    parser.add_argument("--step", action="store_true", help="then train one step on this machine")
    ns = parser.parse_args()
    out_path = os.path.abspath(ns.out_jsonl)
    os.chdir(ns.export_dir)  # the config's paths are relative to the export folder
    notes: list[str] = []
    _torchaudio(notes)
    import llamafactory

    cfg = _config()
    notes.append(
        f"template: {cfg['template']}"
        if cfg.get("template")
        else "template: not set (LLaMA-Factory parses the tokenizer's chat template)"
    )
    result: dict[str, Any] = {
        "trainer": f"llamafactory {llamafactory.__version__}",
        "rows": 0,
        "step": None,
    }
    try:
        result["rows"] = _rows(cfg, out_path)
    except (
        Exception
    ) as exc:  # the config does not start here: the trainer's own error is the result
        result["error"] = f"{type(exc).__name__}: {str(exc)[:500]}"
        print(json.dumps(result | {"notes": notes}, ensure_ascii=False), flush=True)
        print(f"error: {result['error']}", file=sys.stderr, flush=True)  # export --check shows it
        sys.exit(1)
    if ns.step:
        result["step"] = _step(cfg, notes)
    print(json.dumps(result | {"notes": notes}, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
