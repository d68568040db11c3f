"""``sftforge export --check``: load an export folder with the trainer's own code and compare the
rows it builds with the profile's.

The trainer usually lives in its own environment, so the check runs a small standalone script
(``export/peers/<framework>.py``: standard library and the trainer's packages only) with the
trainer's Python, from inside the export folder, on the config exactly as written. The script
writes one ``{"input_ids", "labels"}`` line per train row the trainer keeps, in its order, and a
last stdout line with the trainer's version and row count. The same train samples are encoded
with the profile set up as the config says (:class:`~.common.ProfileSettings`), and the two row
lists are aligned (the trainer and the profile may each drop rows the other keeps) and compared.

The trainer's Python is, in order: the one given (``--trainer-python``), this interpreter when it
can import the trainer, or the interpreter named on the first line of the trainer's command on
``PATH`` (``llamafactory-cli``, ``trl``, ``swift``...), which is how a pip-installed trainer in
another virtual environment is found.
"""

from __future__ import annotations

import difflib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ..errors import SftforgeError
from ..sample import Sample
from .common import ProfileSettings

__all__ = [
    "CheckReport",
    "Comparison",
    "PeerRun",
    "check_export",
    "compare_rows",
    "find_trainer_python",
    "run_peer",
]

# framework -> (the module the trainer is imported as, its command on PATH, pip name)
TRAINERS: dict[str, tuple[str, str, str]] = {
    "llamafactory": ("llamafactory", "llamafactory-cli", "llamafactory"),
    "trl": ("trl", "trl", "trl"),
    "swift": ("swift", "swift", "ms-swift"),
    "axolotl": ("axolotl", "axolotl", "axolotl"),
    "xtuner": ("xtuner", "xtuner", "xtuner"),
    "litgpt": ("litgpt", "litgpt", "litgpt"),
}
PEERS = Path(__file__).resolve().parent / "peers"


@dataclass
class PeerRun:
    """What the trainer's own code built from the export folder."""

    rows: list[tuple[list[int], list[int]]]
    trainer: str  # name and version, as the peer script reports them
    # the one-step training result, when asked for: {"ok", "loss"} or {"ok": False, "error"}, with
    # "cpu_limitation": true when the trainer itself cannot train on a CPU (XTuner 0.2.0)
    step: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class Comparison:
    """The trainer's rows against the profile's, aligned by their token ids."""

    profile_rows: int
    trainer_rows: int
    identical: int  # same input_ids and labels
    differ: int  # paired rows whose ids or labels differ
    only_profile: int  # rows the profile keeps and the trainer does not
    only_trainer: int
    first_difference: str | None = None

    @property
    def ok(self) -> bool:
        return self.identical == self.profile_rows == self.trainer_rows


@dataclass
class CheckReport:
    framework: str
    peer: PeerRun
    comparison: Comparison
    profile_rejected: int

    def lines(self) -> list[str]:
        c = self.comparison
        out = [
            f"check: {self.peer.trainer} loaded {c.trainer_rows} train rows; the {self.framework} "
            f"profile keeps {c.profile_rows} ({self.profile_rejected} rejected); identical "
            f"{c.identical}, different {c.differ}, kept only by the trainer {c.only_trainer}, "
            f"only by the profile {c.only_profile}"
        ]
        if c.first_difference:
            out.append(f"  first difference: {c.first_difference}")
        step = self.peer.step
        if step is not None:
            out.append(
                f"  one training step: loss {step.get('loss')}"
                if step.get("ok")
                else f"  one training step failed: {step.get('error')}"
            )
        out += [f"  note: {n}" for n in self.peer.notes]
        return out


def find_trainer_python(framework: str, given: str | None = None) -> Path:
    """The Python that has the trainer installed (see the module docstring for the order)."""
    module, command, pip_name = TRAINERS[framework]
    if given:
        path = Path(given).expanduser()
        if path.is_dir():  # a virtual environment's folder
            path = path / "bin" / "python"
        if not path.exists():
            raise SftforgeError(
                f"no Python at {path}.",
                field="trainer-python",
                hint="give the python of the environment the trainer is installed in",
            )
        return path
    if importlib.util.find_spec(module) is not None:
        return Path(sys.executable)
    found = shutil.which(command)
    if found:
        python = _shebang_python(Path(found))
        if python is not None:
            return python
    raise SftforgeError(
        f"--check needs {framework} installed, and it is neither importable here nor on PATH "
        f"(`{command}`).",
        field="check",
        hint=f"pip install {pip_name} (in its own environment is fine), then pass "
        "--trainer-python PATH/TO/ITS/python, or leave --check out",
    )


def _shebang_python(script: Path) -> Path | None:
    try:
        with script.open("rb") as f:
            first = f.readline(4096).decode("utf-8", "replace").strip()
    except OSError:
        return None
    if not first.startswith("#!"):
        return None
    parts = first[2:].split()
    if not parts:
        return None
    if Path(parts[0]).name == "env" and len(parts) > 1:  # "#!/usr/bin/env python3"
        found = shutil.which(parts[1])
        return Path(found) if found else None
    candidate = Path(parts[0])
    return candidate if candidate.exists() and "python" in candidate.name else None


def run_peer(
    framework: str,
    folder: Path,
    python: Path,
    *,
    step: bool = False,
    timeout: float = 1800.0,
) -> PeerRun:
    """Run the trainer's own data preparation (and one training step with ``step``) on the export
    folder, from inside it, with the trainer's Python."""
    import time

    script = PEERS / f"{framework}.py"
    if not script.exists():
        raise SftforgeError(f"there is no trainer check for {framework} yet.", field="check")
    folder = Path(folder).resolve()
    with tempfile.TemporaryDirectory(prefix="sftforge-check-") as tmp:
        out = Path(tmp) / "rows.jsonl"
        cmd = [str(python), str(script), str(folder), str(out), *(["--step"] if step else [])]
        env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
        env.pop("PYTHONPATH", None)  # the trainer's environment, not ours
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(
                cmd, cwd=folder, capture_output=True, text=True, timeout=timeout, env=env
            )
        except subprocess.TimeoutExpired:
            raise SftforgeError(
                f"the {framework} check did not finish in {timeout:.0f} s.", field="check"
            ) from None
        seconds = time.perf_counter() - t0
        lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
        info: dict[str, Any] | None = None
        if lines:
            try:
                parsed = orjson.loads(lines[-1])
                info = parsed if isinstance(parsed, dict) else None
            except orjson.JSONDecodeError:
                info = None
        if proc.returncode != 0 or info is None:
            tail = proc.stderr.strip().splitlines() or proc.stdout.strip().splitlines() or [""]
            raise SftforgeError(
                f"{framework} could not load the export (exit {proc.returncode}): {tail[-1]}",
                file=str(folder),
                field="check",
                hint=f"run `{' '.join(cmd)}` from {folder} to see the whole output",
            )
        rows = []
        if out.exists():
            with out.open("rb") as f:
                for line in f:
                    rec = orjson.loads(line)
                    rows.append((list(rec["input_ids"]), list(rec["labels"])))
    return PeerRun(
        rows=rows,
        trainer=str(info.get("trainer", framework)),
        step=info.get("step"),
        notes=[str(n) for n in info.get("notes") or []],
        seconds=seconds,
    )


def compare_rows(
    profile_rows: list[tuple[list[int], list[int]]],
    trainer_rows: list[tuple[list[int], list[int]]],
) -> Comparison:
    """Align the two row lists by their input ids (each side may have dropped rows the other
    kept), then count rows identical, different, and kept by one side only."""
    a = [hash(tuple(ids)) for ids, _ in profile_rows]
    b = [hash(tuple(ids)) for ids, _ in trainer_rows]
    identical = differ = only_p = only_t = 0
    first: str | None = None
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        pairs = list(zip(range(i1, i2), range(j1, j2), strict=False))
        for i, j in pairs:
            if profile_rows[i] == trainer_rows[j]:
                identical += 1
                continue
            differ += 1
            if first is None:
                first = _describe(i, profile_rows[i], trainer_rows[j])
        only_p += (i2 - i1) - len(pairs)
        only_t += (j2 - j1) - len(pairs)
        if op != "equal" and first is None and (i2 - i1) != (j2 - j1):
            first = f"profile rows {i1}..{i2 - 1} vs trainer rows {j1}..{j2 - 1} do not pair up"
    return Comparison(
        profile_rows=len(profile_rows),
        trainer_rows=len(trainer_rows),
        identical=identical,
        differ=differ,
        only_profile=only_p,
        only_trainer=only_t,
        first_difference=first,
    )


def _describe(i: int, p: tuple[list[int], list[int]], t: tuple[list[int], list[int]]) -> str:
    what = "input_ids" if p[0] != t[0] else "labels"
    x, y = (p[0], t[0]) if what == "input_ids" else (p[1], t[1])
    k = next((n for n, (u, v) in enumerate(zip(x, y, strict=False)) if u != v), min(len(x), len(y)))
    return (
        f"profile row {i}: {what} differ at position {k} "
        f"(profile {x[k : k + 4]}..., trainer {y[k : k + 4]}...; lengths {len(x)} vs {len(y)})"
    )


def profile_rows(
    framework: str, samples: list[Sample], tokenizer: str, settings: ProfileSettings
) -> tuple[list[tuple[list[int], list[int]]], int]:
    """The profile's rows for ``samples`` (set up as the export's config says), and how many it
    rejected."""
    from ..chat.profiles import Encoded, get_profile, load_tokenizer

    profile = get_profile(
        framework,
        load_tokenizer(tokenizer),
        template=settings.template,
        max_length=settings.max_length,
        **settings.options,
    )
    rows, rejected = [], 0
    for out in profile.encode_stream(samples):
        if isinstance(out, Encoded):
            rows.append((list(out.input_ids), list(out.labels)))
        else:
            rejected += 1
    return rows, rejected


def check_export(
    framework: str,
    folder: Path,
    samples: list[Sample],
    *,
    tokenizer: str | None,
    settings: ProfileSettings | None,
    python: str | None = None,
    step: bool = False,
) -> CheckReport:
    """Load ``folder`` with the trainer and compare its train rows with the profile's rows of
    ``samples`` (the train samples the export wrote)."""
    if settings is None:
        raise SftforgeError(f"the {framework} export cannot be checked yet.", field="check")
    if tokenizer is None:
        raise SftforgeError(
            "--check needs the model's tokenizer to encode with the profile.",
            field="check",
            hint="give --model as a local model folder, or --tokenizer PATH",
        )
    trainer_python = find_trainer_python(framework, python)
    mine, rejected = profile_rows(framework, samples, tokenizer, settings)
    peer = run_peer(framework, folder, trainer_python, step=step)
    return CheckReport(framework, peer, compare_rows(mine, peer.rows), rejected)
