"""TRL half of profile_oracle.py: our ``trl`` profile against SFTTrainer's own preparation."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _demo_data import load
from _venvs import peer_python
from profile_oracle import compare

from sftforge.chat.profiles import Encoded, get_profile, load_tokenizer
from sftforge.chat.profiles.trl import to_trl_record

HERE = Path(__file__).resolve().parent

# ChatML with {% generation %} around what is trained (the answer and its <|im_end|>).
CHATML_GEN = (
    "{% for m in messages %}"
    "{% if m['role'] == 'assistant' %}<|im_start|>assistant\n"
    "{% generation %}{{ m['content'] }}<|im_end|>{% endgeneration %}\n"
    "{% else %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
DATASETS = ["alpaca_en_demo", "alpaca_zh_demo", "identity"]
VARIANTS: list[dict[str, Any]] = [
    {"assistant_only_loss": True, "layout": "messages", "max_length": 1024, "truncation_mode": "keep_start"},
    {"assistant_only_loss": False, "layout": "messages", "max_length": 1024, "truncation_mode": "keep_start"},
    {"assistant_only_loss": True, "layout": "messages", "max_length": 40, "truncation_mode": "keep_start"},
    {"assistant_only_loss": True, "layout": "messages", "max_length": 40, "truncation_mode": "keep_end"},
    {"assistant_only_loss": False, "layout": "prompt_completion", "max_length": 1024, "truncation_mode": "keep_start"},
]  # fmt: skip


def run_trl(limit: int | None, tokenizer: str) -> list[dict[str, Any]]:
    tok = load_tokenizer(tokenizer)
    tmp = Path(tempfile.mkdtemp(prefix="sftforge-oracle-trl-"))
    jobs, pending = [], []
    for ds in DATASETS:
        samples = load(ds, limit)[0]
        for n, var in enumerate(VARIANTS):
            profile = get_profile(
                "trl",
                tok,
                max_length=var["max_length"],
                assistant_only_loss=var["assistant_only_loss"],
                layout=var["layout"],
                truncation_mode=var["truncation_mode"],
                chat_template=CHATML_GEN,
            )
            rows = profile.encode_batch(samples)
            # TRL gets every sample: the rows it drops itself (nothing trained after truncation)
            # must be exactly the ones the profile rejects, or the row counts differ.
            kept = samples
            data = tmp / f"{ds}-{n}.jsonl"
            data.write_text(
                "".join(
                    json.dumps(to_trl_record(s, layout=var["layout"]), ensure_ascii=False) + "\n"
                    for s in kept
                ),
                encoding="utf-8",
            )
            jobs.append(
                {
                    "tokenizer": tokenizer,
                    "chat_template": CHATML_GEN,
                    "data": str(data),
                    "max_length": var["max_length"],
                    "truncation_mode": var["truncation_mode"],
                    "assistant_only_loss": var["assistant_only_loss"],
                    "completion_only_loss": None,
                    "out": str(data) + ".peer",
                }
            )
            case = {"dataset": ds, "template": "chatml+gen", "options": var}
            pending.append(
                (
                    case,
                    [r for r in rows if isinstance(r, Encoded)],
                    sum(not isinstance(r, Encoded) for r in rows),
                )
            )
    job_file = tmp / "jobs.json"
    job_file.write_text(json.dumps(jobs))
    proc = subprocess.run(
        [str(peer_python("trl")), str(HERE / "_peer_trl.py"), str(job_file)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        sys.exit(f"TRL peer failed:\n{proc.stderr[-3000:]}")
    out = []
    for job, (case, ours, rejected) in zip(jobs, pending, strict=True):
        theirs = [json.loads(x) for x in Path(job["out"]).read_text().splitlines()]
        out.append(compare(ours, theirs) | {"case": case, "rejected_by_profile": rejected})
    return out
