"""A run's progress as its job shows it, from the pipeline's own reports.

The run watches the stages the library opens (``sftforge.progress.watch``: the same numbers
``sftforge run`` draws as bars and lines) and turns them into the job's fraction, its one-line
message and its ``detail``::

    {"input_rows": 1200,
     "stages": [{"label": "stage 1/2 (clean_html, length_filter)", "state": "done", "depth": 0,
                 "stage": 1, "stages": 2, "unit": "records", "done": 1200, "total": 1200,
                 "fraction": 1.0, "rate": 5400.0, "elapsed": 0.22, "eta": null},
                {"label": "stage 2/2 (respond)", "state": "running", "depth": 0, ...},
                {"label": "respond", "state": "running", "depth": 1, "unit": "items",
                 "done": 40, "total": 1180, "items_failed": 1,
                 "llm": {"calls": 41, "calls_failed": 1, "cache_hits": 0, "retries": 2,
                         "prompt_tokens": 9000, "completion_tokens": 3000, "tokens": 12000,
                         "cost": 0.018, "priced": true, "max_tokens": 200000, "max_cost": null}}]}

``done`` / ``total`` are records (items for an LLM step); ``total`` is null where the library
does not know it. The first stage reads the input version, so its total is the input's rows.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from typing import Any

from ..io import remote
from ..progress import StageView, llm_text

__all__ = ["RunProgress"]

log = logging.getLogger("sftforge.studio.runs")

Report = Callable[[float, str, dict[str, Any]], None]  # JobContext.progress
_START, _SPAN = 0.05, 0.85  # the recipe's share of the job (the input before, the version after)


class RunProgress:
    """``update`` is the watcher's callback; ``report`` the job's progress call."""

    every = 0.5  # seconds between two writes of the job's progress

    def __init__(self, report: Report, input_rows: int) -> None:
        self.report = report
        self.input_rows = input_rows
        self.fraction = _START

    def update(self, views: list[StageView]) -> None:
        stages = [self._stage(v) for v in views]
        self.fraction = max(self.fraction, self._overall(stages))  # never backwards
        running = [s for s in stages if s["state"] == "running"]
        line = _line(running[-1] if running else stages[-1]) if stages else ""
        try:
            self.report(self.fraction, remote.scrub(line)[:200],
                        {"input_rows": self.input_rows, "stages": stages})  # fmt: skip
        except sqlite3.OperationalError as err:  # a busy database: the next report tries again
            log.warning("could not record the run's progress: %s", err)

    def _stage(self, v: StageView) -> dict[str, Any]:
        info = v["info"]
        total = v["expected"]
        if total is None and info.get("stage") == 1:
            total = self.input_rows  # the first stage reads the input, every row of it
        out: dict[str, Any] = {
            "label": remote.scrub(v["label"])[:200],
            "state": v["state"],
            "depth": v["depth"],
            "unit": v["unit"],
            "done": v["count"],
            "total": total,
            "fraction": v["fraction"],
            "rate": v["rate"],
            "elapsed": v["elapsed"],
            "eta": v["eta"],
        }
        if out["fraction"] is None and total:
            out["fraction"] = min(1.0, v["count"] / total)
        for key in ("stage", "stages", "items_failed", "llm"):
            if key in info:
                out[key] = info[key]
        return out

    def _overall(self, stages: list[dict[str, Any]]) -> float:
        """The job's fraction: the executor's stage k of n at fraction f is ``(k - 1 + f) / n``
        of the recipe's share, f taken from the step running inside it when it has one (an
        LLM step's items: the stage itself counts its records only once the step is done)."""
        outer = [i for i, s in enumerate(stages) if "stage" in s]
        if not outer:
            return _START
        current = stages[outer[-1]]
        within = current["fraction"] if current["state"] == "running" else 1.0
        inner = [s for s in stages[outer[-1] + 1 :] if s["state"] == "running"]
        if current["state"] == "running" and inner and inner[-1]["fraction"] is not None:
            within = inner[-1]["fraction"]
        done = (current["stage"] - 1 + (within or 0.0)) / max(1, current["stages"])
        return _START + _SPAN * min(1.0, done)


def _line(stage: dict[str, Any]) -> str:
    """``stage 2/3 (dedup_exact): 120 of 200 records`` (and an LLM step's calls and tokens)."""
    total = f" of {stage['total']:,}" if stage["total"] is not None else ""
    line = f"{stage['label']}: {stage['done']:,}{total} {stage['unit']}"
    llm = llm_text(stage)
    return f"{line}, {llm}" if llm else line
