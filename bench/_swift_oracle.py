"""ms-swift half of profile_oracle.py: the ``swift`` profile against ms-swift's ``Template.encode``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _demo_data import load
from profile_oracle import compare

from sftforge.chat.profiles import Encoded, get_profile, load_tokenizer

HERE = Path(__file__).resolve().parent
DATASETS = ["alpaca_en_demo", "alpaca_zh_demo", "identity", "fastchat_dummy"]
TEMPLATES = ["qwen", "qwen2_5", "chatml"]
# ms-swift's jinja backend: the tokenizer's own chat template, this ms-swift template type
JINJA = "jinja"
JINJA_TYPE = "qwen3_nothinking"


def run_swift(limit: int | None, tokenizer: str) -> list[dict[str, Any]]:
    venv = os.environ.get("SFTFORGE_SWIFT_VENV")
    if not venv:
        sys.exit("set SFTFORGE_SWIFT_VENV to a venv with ms-swift installed")
    tok = load_tokenizer(tokenizer)
    tmp = Path(tempfile.mkdtemp(prefix="sftforge-oracle-swift-"))
    jobs, pending = [], []
    for ds in DATASETS:
        samples = load(ds, limit)[0]
        data = tmp / f"{ds}.jsonl"
        data.write_text(
            "".join(
                json.dumps(
                    {"messages": [{"role": m.role, "content": m.content} for m in s.messages]},
                    ensure_ascii=False,
                )
                + "\n"
                for s in samples
            ),
            encoding="utf-8",
        )
        # the jinja backend where the tokenizer ships a chat template
        for tpl in [*TEMPLATES, *([JINJA] if getattr(tok, "chat_template", None) else [])]:
            if tpl == JINJA:
                prof = get_profile("swift", tok, template="tokenizer")
                job = {"template": JINJA_TYPE, "template_backend": "jinja"}
            else:
                prof, job = get_profile("swift", tok, template=tpl), {"template": tpl}
            rows = prof.encode_batch(samples)
            ours = [r for r in rows if isinstance(r, Encoded)]
            jobs.append(
                job
                | {"tokenizer": tokenizer, "data": str(data), "out": str(tmp / f"{ds}.{tpl}.peer")}
            )
            pending.append(
                ({"dataset": ds, "template": tpl, "options": {}}, ours, len(rows) - len(ours))
            )
    (tmp / "jobs.json").write_text(json.dumps(jobs))
    proc = subprocess.run(
        [str(Path(venv) / "bin" / "python"), str(HERE / "_peer_swift.py"), str(tmp / "jobs.json")],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        sys.exit(f"ms-swift peer failed:\n{proc.stderr[-3000:]}")
    out = []
    for job, (case, ours, rejected) in zip(jobs, pending, strict=True):
        theirs = [json.loads(x) for x in Path(job["out"]).read_text().splitlines()]
        out.append(compare(ours, theirs) | {"case": case, "rejected_by_profile": rejected})
    return out
