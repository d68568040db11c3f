"""``report.json``: what a run did, step by step, and the distributions the HTML report draws.

Sections: totals and per-input counts; per step the funnel (seen, kept, dropped by reason),
seconds, throughput and the peak RSS of the stage it ran in; histograms of every filter metric
and of message lengths per role before (as read) and after (as written); the language
distribution (from any metric whose key holds ``lang`` and whose values are strings); dedup
cluster sizes; PII counts per kind (the ``extra`` counters of operators named ``pii*``); a few
rejected examples per reason.
"""

from __future__ import annotations

import math
import resource
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from .plan import JobResult, Sampled
from .recipe import Recipe
from .report_html import render_html
from .shards import atomic_write_bytes

__all__ = ["build_report", "histogram", "write_report"]


def histogram(values: list[Any], bins: int = 20) -> dict[str, Any]:
    """Equal-width bins for numbers; the most common values for strings."""
    nums = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if len(nums) < len(values) / 2:
        top = Counter(str(v) for v in values).most_common(30)
        return {"kind": "categorical", "n": len(values), "top": [[k, n] for k, n in top]}
    if not nums:
        return {"kind": "numeric", "n": 0}
    lo, hi = min(nums), max(nums)
    width = (hi - lo) / bins or 1.0
    counts = [0] * bins
    for v in nums:
        counts[min(int((v - lo) / width), bins - 1)] += 1
    srt = sorted(nums)
    return {
        "kind": "numeric",
        "n": len(nums),
        "min": lo,
        "max": hi,
        "mean": round(sum(nums) / len(nums), 4),
        "p50": srt[len(srt) // 2],
        "p95": srt[min(len(srt) - 1, int(len(srt) * 0.95))],
        "edges": [round(lo + i * width, 4) for i in range(bins + 1)],
        "counts": counts,
    }


def _hists(groups: dict[str, Sampled]) -> dict[str, Any]:
    return {k: histogram(v.values) | {"total": v.seen} for k, v in sorted(groups.items())}


def build_report(
    recipe: Recipe,
    result: JobResult,
    counts: dict[str, Any],
    examples: dict[str, list[dict[str, Any]]],
    lengths_after: dict[str, Sampled],
    losses: dict[str, dict[str, int]],
    seconds: float,
    workers: int | None,
) -> dict[str, Any]:
    from .. import __version__

    stage_of = {i: st for st in result.stages for i in st.steps}
    steps: list[dict[str, Any]] = []
    for i, (spec, c) in enumerate(zip(recipe.steps, result.step_counters, strict=True)):
        st = stage_of[i]
        secs = c["seconds"]
        steps.append(
            {
                "step": i + 1,
                "op": spec.op,
                "kind": st.kind,
                "seen": c["seen"],
                "kept": c["kept"],
                "dropped": dict(sorted(c["dropped"].items(), key=lambda kv: -kv[1])),
                "seconds": round(secs, 4),
                "throughput": round(c["seen"] / secs, 1) if secs > 0 else None,
                "peak_rss_mb": round(st.peak_rss_kb / 1024, 1),
                "extra": c["extra"],
            }
            | (st.op_report if st.kind == "global" else {})
        )
    languages: Counter[str] = Counter()
    for key, sampled in result.metrics.items():
        if "lang" in key.lower():
            languages.update(v for v in sampled.values if isinstance(v, str))
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "sftforge": __version__,
        "seconds": round(seconds, 3),
        "workers": workers,
        "throughput": round(counts["read"] / seconds, 1) if seconds > 0 else None,
        "peak_rss_mb": {"main": round(own / 1024, 1), "workers": round(kids / 1024, 1)},
        "counts": counts,
        "outputs": {
            split: {
                "path": o.to_dict()["path"],
                "format": o.format,
                "losses": losses.get(split, {}),
            }
            for split, o in recipe.outputs.items()
        },
        "steps": steps,
        "stages": [st.to_dict() for st in result.stages],
        "metrics": _hists(result.metrics),
        "lengths": {"before": _hists(result.lengths_before), "after": _hists(lengths_after)},
        "languages": dict(languages.most_common()),
        "dedup_clusters": {
            f"{st.steps[0] + 1}. {recipe.steps[st.steps[0]].op}": {
                str(k): v for k, v in sorted(st.cluster_sizes.items())
            }
            for st in result.stages
            if st.cluster_sizes
        },
        "pii": {
            f"{s['step']}. {s['op']}": s["extra"] for s in steps if "pii" in s["op"] and s["extra"]
        },
        "reject_examples": examples,
    }


def write_report(out: Path, report: dict[str, Any]) -> tuple[Path, Path]:
    rj, rh = out / "report.json", out / "report.html"
    atomic_write_bytes(rj, orjson.dumps(report, option=orjson.OPT_INDENT_2))
    atomic_write_bytes(rh, render_html(report).encode("utf-8"))
    return rj, rh
