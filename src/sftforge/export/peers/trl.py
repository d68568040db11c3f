"""Check an ``sftforge export --for trl`` folder with TRL itself. Standalone: run it with TRL's
Python; it imports the standard library and TRL's own packages only (never sftforge).

    TRL_PYTHON trl.py EXPORT_DIR OUT_JSONL [--step] [--entry py|sh]

run with cwd = EXPORT_DIR. The export is started the way its command starts it, unedited:

* ``--entry py`` (the default, the README's command): ``train_trl.py`` is run as a script
  (``runpy``);
* ``--entry sh``: ``bash train_trl.sh`` is run, with a ``trl`` first on ``PATH`` that runs what
  ``trl sft`` runs (TRL's own ``trl.scripts.sft`` parser and ``main``) in one process; the real
  ``trl`` launches the same script through ``accelerate launch``.

Either way ``trl.SFTTrainer`` is replaced by a subclass that, once TRL has prepared the data,
writes one ``{"input_ids", "labels"}`` line per train row TRL keeps, in its order (TRL stores
labels unshifted with -100 where there is no loss, so they are written as they are). Without
``--step`` it then stops the script before training; with ``--step`` it runs ONE optimizer step
(``max_steps=1``) with TRL's own ``train``, output into a temporary folder and no checkpoint
saved; everything else (precision, LoRA, batch size, gradient accumulation) as exported. The
last stdout line is one JSON object: ``{"trainer", "rows", "step", "notes"}``.
"""

import contextlib
import json
import os
import runpy
import shutil
import subprocess
import sys
import tempfile
import traceback

# this file is named trl.py: its folder must not shadow the real trl package
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

STATE = "SFTFORGE_TRL_PEER_STATE"  # env var: the JSON state file the shim `trl` reads and writes


class _Stop(Exception):
    """Raised from the patched trainer to end the export's script at the right point."""


def _install(state):
    """Replace trl.SFTTrainer (and TRL's CLI script's view of it) by the capturing subclass."""
    import trl
    from transformers.trainer_utils import SaveStrategy

    class CheckedSFTTrainer(trl.SFTTrainer):
        def __init__(self, *args, **kwargs):
            config = kwargs.get("args")
            if state["step"] and config is not None:
                # the overrides a one-step run needs, nothing else
                config.max_steps = 1
                config.output_dir = state["tmp"]
                config.save_strategy = SaveStrategy.NO
            super().__init__(*args, **kwargs)
            state["bf16"] = bool(self.args.bf16)

        def train(self, *args, **kwargs):
            rows = 0
            with open(state["out"], "w", encoding="utf-8") as f:
                for row in self.train_dataset:
                    f.write(json.dumps({"input_ids": row["input_ids"], "labels": row["labels"]}))
                    f.write("\n")
                    rows += 1
            state["rows"] = rows
            if not state["step"]:
                raise _Stop
            try:
                result = super().train(*args, **kwargs)
                state["result"] = {"ok": True, "loss": float(result.training_loss)}
            except Exception as exc:  # the trainer's own failure is the answer, reported
                state["result"] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            raise _Stop

    trl.SFTTrainer = CheckedSFTTrainer


def _summary(state, notes):
    import trl

    step = state.get("result") if state["step"] else None
    if state["step"] and step is None:
        step = {"ok": False, "error": "the script did not reach trainer.train()"}
    if "bf16" in state:
        notes.append(f"bf16={state['bf16']} (the export's choice on this machine)")
    return {
        "trainer": f"trl {trl.__version__}",
        "rows": state.get("rows", 0),
        "step": step,
        "notes": notes,
    }


def _run_python(state):
    _install(state)
    with contextlib.suppress(_Stop):  # the patched trainer ends the script here
        runpy.run_path("train_trl.py", run_name="__main__")


def _run_shell(state, state_file):
    """bash train_trl.sh, with a `trl` on PATH that runs this file as the CLI (below)."""
    bindir = os.path.join(state["tmp"], "bin")
    os.makedirs(bindir)
    shim = os.path.join(bindir, "trl")
    with open(shim, "w", encoding="utf-8") as f:
        f.write(f"#!{sys.executable}\n")
        f.write("import runpy, sys\n")
        f.write(f"sys.argv = [{os.path.abspath(__file__)!r}, '--as-trl-cli', *sys.argv[1:]]\n")
        f.write(f"runpy.run_path({os.path.abspath(__file__)!r}, run_name='__main__')\n")
    os.chmod(shim, 0o755)
    # the interpreter's own folder too: the script's `python -c` (precision) is TRL's python
    path = os.pathsep.join([bindir, os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    env = {**os.environ, "PATH": path, STATE: state_file}
    with open(state_file, "w", encoding="utf-8") as f:
        json.dump(state, f)
    proc = subprocess.run(["bash", "train_trl.sh"], env=env, stdout=sys.stderr)
    with open(state_file, encoding="utf-8") as f:
        state.update(json.load(f))
    if proc.returncode != 0 and "rows" not in state:
        raise SystemExit(f"bash train_trl.sh stopped (exit {proc.returncode})")


def _as_trl_cli(argv):
    """What `trl sft ARGS` runs, in this process: TRL's parser and main for its sft script."""
    if not argv or argv[0] != "sft":
        raise SystemExit(f"the check's trl stands in for `trl sft` only, not: trl {argv}")
    from trl.scripts.sft import main, make_parser

    state_file = os.environ[STATE]
    with open(state_file, encoding="utf-8") as f:
        state = json.load(f)
    _install(state)
    parser = make_parser()
    script_args, training_args, model_args, dataset_args = parser.parse_args_and_config(
        argv[1:], fail_with_unknown_args=True
    )
    with contextlib.suppress(_Stop):  # the patched trainer ends the script here
        main(script_args, training_args, model_args, dataset_args)
    with open(state_file, "w", encoding="utf-8") as f:
        json.dump(state, f)


def main(argv):
    if argv and argv[0] == "--as-trl-cli":
        _as_trl_cli(argv[1:])
        return
    args = [a for a in argv if not a.startswith("--")]
    entry = "py"
    if "--entry" in argv:
        entry = argv[argv.index("--entry") + 1]
        args.remove(entry)
    if len(args) != 2 or entry not in ("py", "sh"):
        raise SystemExit("usage: trl.py EXPORT_DIR OUT_JSONL [--step] [--entry py|sh]")
    folder, out = os.path.abspath(args[0]), os.path.abspath(args[1])
    os.chdir(folder)
    tmp = tempfile.mkdtemp(prefix="sftforge-trl-peer-")
    state = {"step": "--step" in argv, "out": out, "tmp": tmp}
    notes = [f"entry: {'python train_trl.py' if entry == 'py' else 'bash train_trl.sh'}"]
    try:
        if entry == "py":
            _run_python(state)
        else:
            _run_shell(state, os.path.join(tmp, "state.json"))
    except SystemExit:
        raise
    except Exception:
        traceback.print_exc()
        raise SystemExit(1) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(_summary(state, notes)))


if __name__ == "__main__":
    main(sys.argv[1:])
