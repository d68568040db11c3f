"""Token-for-token check of trainer profiles against the frameworks' own preprocessing.

    python bench/profile_oracle.py [--peer llamafactory|trl|all] [--limit N] [--json OUT]

LLaMA-Factory: for each (demo dataset, template, cutoff_len, options) case, the samples are written
with our ``export --for llamafactory`` data layout and dataset_info entry, LLaMA-Factory's own
``get_dataset`` runs on them in its venv (bench/_peer_llamafactory.py), and every row's input_ids
and labels are compared with the ``llamafactory`` profile's. TRL: the same with ``SFTTrainer``'s
dataset preparation (bench/_peer_trl.py). Samples the profile rejects (a tool format it does not
reproduce, a sample the framework drops) are counted, not compared.

ms-swift (``--peer swift``, or ``all`` when $SFTFORGE_SWIFT_VENV is set): ``Template.encode`` in
train mode against the ``swift`` profile (bench/_peer_swift.py), with ms-swift's templates and, when
the tokenizer ships a chat template, its ``jinja`` backend (``--template tokenizer``).

Peer venvs: $SFTFORGE_LF_VENV / $SFTFORGE_TRL_VENV, else created under .bench-venvs/;
$SFTFORGE_SWIFT_VENV (ms-swift is only compared when it is set).
Tokenizer: $SFTFORGE_TOKENIZER, else ../shared/data/tokenizers/minimind.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _shared import SHARED_DATA

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from _demo_data import load
from _venvs import peer_python

from sftforge.chat.profiles import Encoded, get_profile, load_tokenizer
from sftforge.export.llamafactory import write_llamafactory_data
from sftforge.sample import Sample

HERE = Path(__file__).resolve().parent
TOKENIZER = os.environ.get("SFTFORGE_TOKENIZER", str(SHARED_DATA / "tokenizers/minimind"))

LF_DATASETS = [
    "alpaca_en_demo",
    "alpaca_zh_demo",
    "identity",
    "glaive_toolcall_en_demo",
    "glaive_toolcall_zh_demo",
]
LF_TEMPLATES: list[str | None] = [
    None,  # LLaMA-Factory parses the tokenizer's own chat template
    "qwen", "default", "empty", "alpaca", "vicuna", "chatml", "llama3", "llama2",
    "mistral", "intern2", "yi", "qwen3", "qwen3_nothink", "gemma", "chatglm3",
]  # fmt: skip
# (cutoff_len, options) variants run on every dataset with the qwen and default templates
LF_VARIANTS: list[tuple[int, dict[str, Any]]] = [
    (64, {}),
    (48, {"mask_history": True}),
    (2048, {"train_on_prompt": True}),
    (32, {"train_on_prompt": True}),
]


def compare(ours: list[Encoded], theirs: list[dict[str, Any]]) -> dict[str, Any]:
    """Row-by-row equality of ids and labels; the first mismatch is kept for the report."""
    res: dict[str, Any] = {
        "rows": len(ours),
        "peer_rows": len(theirs),
        "ids_diff": 0,
        "labels_diff": 0,
    }
    for i, (a, b) in enumerate(zip(ours, theirs, strict=False)):
        if a.input_ids != b["input_ids"]:
            res["ids_diff"] += 1
            res.setdefault(
                "first", {"row": i, "ours": a.input_ids[:40], "theirs": b["input_ids"][:40]}
            )
        elif a.labels != b["labels"]:
            res["labels_diff"] += 1
            res.setdefault("first", {"row": i, "ours": a.labels[:40], "theirs": b["labels"][:40]})
    res["match"] = res["rows"] == res["peer_rows"] and res["ids_diff"] == res["labels_diff"] == 0
    return res


def lf_cases(
    limit: int | None, datasets: list[str] | None = None, templates: list[str] | None = None
) -> list[dict[str, Any]]:
    cases = []
    for ds in datasets or LF_DATASETS:
        for tpl in LF_TEMPLATES if templates is None else [t or None for t in templates]:
            cases.append({"dataset": ds, "template": tpl, "cutoff_len": 2048, "options": {}})
        for tpl in ("qwen", "default", "chatglm3") if templates is None else []:
            for cutoff, opts in LF_VARIANTS:
                if tpl == "chatglm3" and opts.get("train_on_prompt"):
                    continue  # LLaMA-Factory refuses train_on_prompt with efficient_eos
                cases.append(
                    {"dataset": ds, "template": tpl, "cutoff_len": cutoff, "options": opts}
                )
    for c in cases:
        c["limit"] = limit
    return cases


def run_lf(
    limit: int | None, datasets: list[str] | None = None, templates: list[str] | None = None
) -> list[dict[str, Any]]:
    tok = load_tokenizer(TOKENIZER)
    cache: dict[str, list[Sample]] = {}
    jobs, pending = [], []
    tmp = Path(tempfile.mkdtemp(prefix="sftforge-oracle-lf-"))
    for n, case in enumerate(lf_cases(limit, datasets, templates)):
        samples = cache.setdefault(case["dataset"], load(case["dataset"], limit)[0])
        profile = get_profile(
            "llamafactory",
            tok,
            template=case["template"],
            max_length=case["cutoff_len"],
            **case["options"],
        )
        rows = profile.encode_batch(samples)
        kept = [s for s, r in zip(samples, rows, strict=True) if isinstance(r, Encoded)]
        ours = [r for r in rows if isinstance(r, Encoded)]
        data_dir = tmp / f"case{n}"
        _, dropped = write_llamafactory_data(kept, data_dir, name="oracle")
        assert not dropped, dropped
        jobs.append(
            {
                "tokenizer": TOKENIZER,
                "dataset_dir": str(data_dir),
                "dataset": "oracle",
                "template": case["template"],
                "cutoff_len": case["cutoff_len"],
                "options": case["options"],
                "out": str(data_dir / "peer.jsonl"),
            }
        )
        pending.append((case, ours, len(samples) - len(kept)))
    job_file = tmp / "jobs.json"
    job_file.write_text(json.dumps(jobs))
    python = peer_python("llamafactory")
    proc = subprocess.run(
        [str(python), str(HERE / "_peer_llamafactory.py"), str(job_file)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        sys.exit(f"LLaMA-Factory peer failed:\n{proc.stderr[-3000:]}")
    results = []
    for job, (case, ours, rejected) in zip(jobs, pending, strict=True):
        theirs = [json.loads(line) for line in Path(job["out"]).read_text().splitlines()]
        res = compare(ours, theirs) | {"case": case, "rejected_by_profile": rejected}
        results.append(res)
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--peer", default="all", choices=["llamafactory", "trl", "swift", "all"])
    ap.add_argument("--limit", type=int, default=None, help="records per dataset (default: all)")
    ap.add_argument("--json", help="write the full results here")
    ap.add_argument("--datasets", nargs="*", help="LLaMA-Factory demo sets (default: all five)")
    ap.add_argument("--templates", nargs="*", help="LLaMA-Factory templates ('' = the tokenizer's)")
    args = ap.parse_args()
    results: list[dict[str, Any]] = []
    if args.peer in ("llamafactory", "all"):
        results += [
            r | {"peer": "llamafactory"} for r in run_lf(args.limit, args.datasets, args.templates)
        ]
    if args.peer in ("trl", "all"):
        from _trl_oracle import run_trl

        results += [r | {"peer": "trl"} for r in run_trl(args.limit, TOKENIZER)]
    if args.peer == "swift" or (args.peer == "all" and os.environ.get("SFTFORGE_SWIFT_VENV")):
        from _swift_oracle import run_swift

        results += [r | {"peer": "swift"} for r in run_swift(args.limit, TOKENIZER)]
    total_rows = sum(r["rows"] for r in results)
    bad_rows = sum(
        r["ids_diff"] + r["labels_diff"] + abs(r["rows"] - r["peer_rows"]) for r in results
    )
    for r in results:
        c = r["case"]
        flag = "OK  " if r["match"] else "DIFF"
        print(
            f"{flag} {r['peer']:12} {c['dataset']:26} {c.get('template')!s:14} "
            f"len={c.get('cutoff_len', c['options'].get('max_length'))} {c['options']} rows={r['rows']} "
            f"peer={r['peer_rows']} ids_diff={r['ids_diff']} labels_diff={r['labels_diff']} "
            f"rejected={r['rejected_by_profile']}"
        )
        if not r["match"] and "first" in r:
            print("     first mismatch:", r["first"])
    cases_ok = sum(r["match"] for r in results)
    print(
        f"\n{cases_ok}/{len(results)} cases identical; {total_rows - bad_rows}/{total_rows} rows "
        f"identical ({100 * (total_rows - bad_rows) / max(total_rows, 1):.2f}%)"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(results, ensure_ascii=False, indent=1))
    sys.exit(0 if cases_ok == len(results) else 1)


if __name__ == "__main__":
    main()
