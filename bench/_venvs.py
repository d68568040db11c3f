"""Peer virtual environments for side-by-side runs: from an env var, else built under .bench-venvs/."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONSTRAINTS = ROOT / "constraints.txt"

# axolotl 0.19's own requirements pull xformers (another torch), gradio, modal, lm_eval: its SFT data
# path and a CPU step need only these; axolotl itself then goes in by hand with
# `pip install --no-deps axolotl==0.19.0` (one pip call here cannot say --no-deps for one package)
_AXOLOTL_DEPS = [
    "transformers==5.16.1",
    "tokenizers==0.23.1",
    "huggingface_hub==1.17.0",
    "hf_xet==1.4.3",
    "peft==0.20.0",
    "accelerate==1.13.0",
    "datasets==4.8.4",
    "trl==1.9.0",
    "pydantic==2.12.5",
    "typing-extensions==4.15.0",
    "packaging==26.0",
    "PyYAML==6.0.3",
    "addict",
    "fire",
    "requests",
    "einops",
    "colorama",
    "numpy<3",
    "typer==0.25.1",
    "scipy",
    "python-dotenv==1.0.1",
    "zstandard==0.22.0",
    "fastcore",
    "schedulefree==1.4.1",
    "axolotl-contribs-lgpl==0.0.7",
    "axolotl-contribs-mit==0.0.6",
    "posthog==6.7.11",
    "sentencepiece",
    "art",
    "mistral-common==1.11.5",
    "kernels<0.17",
    "numba<1.0,>=0.63.1",
    "bitsandbytes==0.50.2",
    "triton>=3.4.0",
    "evaluate==0.4.1",
    "wandb",
]

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
    "axolotl": ("SFTFORGE_AXOLOTL_VENV", ["torch==2.13.0", *_AXOLOTL_DEPS], []),
}


def peer_venv(peer: str) -> Path:
    """The peer's venv folder: the one its env var names, else .bench-venvs/<peer>."""
    return Path(os.environ.get(PEERS[peer][0]) or ROOT / ".bench-venvs" / peer)


def peer_python(peer: str) -> Path:
    """The python of the peer's venv; creates and fills .bench-venvs/<peer> when needed."""
    env_var, requirements, remove = PEERS[peer]
    venv = peer_venv(peer)
    python = venv / "bin" / "python"
    if not python.exists() and not os.environ.get(env_var):
        print(f"creating {venv} (set {env_var} to reuse an existing one)", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(python), "-m", "pip", "install", "-q", "-c", str(CONSTRAINTS)]
        subprocess.run([*pip, *requirements], check=True)
        if remove:
            subprocess.run([str(python), "-m", "pip", "uninstall", "-y", "-q", *remove], check=True)
    return python
