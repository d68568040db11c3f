"""Peer virtual environments for side-by-side runs: from an env var, else built under .bench-venvs/."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONSTRAINTS = ROOT / "constraints.txt"

# peer -> (env var naming an existing venv, pip requirements, packages to remove after install)
PEERS = {
    # torchvision/torchaudio come in unpinned and do not load against the pinned torch; LLaMA-Factory
    # text SFT needs neither (the peer script stubs torchaudio's import).
    "llamafactory": ("SFTFORGE_LF_VENV", ["llamafactory"], ["torchvision", "torchaudio"]),
    "trl": ("SFTFORGE_TRL_VENV", ["trl"], []),
    "litgpt": ("SFTFORGE_LITGPT_VENV", ["litgpt==0.5.13", "requests"], []),  # CLI needs requests
    # XTuner 0.2.0 pins transformers 4.48 (pip resolves it beside torch 2.13.0); its torchvision
    # does not load against torch 2.13.0 (the peer script stubs xtuner.dataset's import of it)
    "xtuner": ("SFTFORGE_XTUNER_VENV", ["xtuner==0.2.0"], ["torchvision"]),
    "swift": ("SFTFORGE_SWIFT_VENV", ["ms-swift==4.6.0"], []),
}


def peer_python(peer: str) -> Path:
    """The python of the peer's venv; creates and fills .bench-venvs/<peer> when needed."""
    env_var, requirements, remove = PEERS[peer]
    if os.environ.get(env_var):
        return Path(os.environ[env_var]) / "bin" / "python"
    venv = ROOT / ".bench-venvs" / peer
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"creating {venv} (set {env_var} to reuse an existing one)", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(python), "-m", "pip", "install", "-q", "-c", str(CONSTRAINTS)]
        subprocess.run([*pip, *requirements], check=True)
        if remove:
            subprocess.run([str(python), "-m", "pip", "uninstall", "-y", "-q", *remove], check=True)
    return python
