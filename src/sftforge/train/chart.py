"""The loss chart of a training run: ``loss.png`` (matplotlib, Agg) and ``loss.html`` (an inline
SVG drawn here, with the figures of the last step, reloading itself every few seconds while the
run goes on). Both are redrawn from the training log, so a hand-over run gets the same chart.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any

from .log import read_log

__all__ = ["write_charts"]

_W, _H, _PAD = 720, 320, 48


def write_charts(log_path: Path, out_dir: Path, *, title: str, running: bool) -> tuple[Path, Path]:
    """Write ``loss.png`` and ``loss.html`` into ``out_dir`` from the log at ``log_path``."""
    records = read_log(log_path)
    train = [(r["step"], r["loss"]) for r in records if "loss" in r]
    evals = [(r["step"], r["eval_loss"]) for r in records if "eval_loss" in r]
    png = _write_png(out_dir / "loss.png", train, evals, title)
    page = _write_html(out_dir / "loss.html", train, evals, records, title, running)
    return png, page


def _write_png(path: Path, train: list[Any], evals: list[Any], title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.2, 3.6), dpi=100)
    ax = fig.add_subplot()
    if train:
        ax.plot(*zip(*train, strict=True), label="train loss", linewidth=1.2)
    if evals:
        ax.plot(*zip(*evals, strict=True), "o-", label="eval loss", linewidth=1.2)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if train or evals:
        ax.legend()
    fig.tight_layout()
    tmp = path.with_name(path.name + ".tmp")
    fig.savefig(tmp, format="png")
    os.replace(tmp, path)
    return path


def _polyline(points: list[Any], sx: Any, sy: Any) -> str:
    return " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in points)


def _write_html(
    path: Path, train: list[Any], evals: list[Any], records: list[Any], title: str, running: bool
) -> Path:
    points = train + evals
    svg = ""
    if points:
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        x0, x1 = min(xs), max(max(xs), min(xs) + 1)
        y0, y1 = min(ys), max(max(ys), min(ys) + 1e-6)

        def sx(x: float) -> float:
            return _PAD + (x - x0) / (x1 - x0) * (_W - 2 * _PAD)

        def sy(y: float) -> float:
            return _H - _PAD - (y - y0) / (y1 - y0) * (_H - 2 * _PAD)

        svg = (
            f'<svg viewBox="0 0 {_W} {_H}" width="{_W}" height="{_H}" role="img">'
            f'<rect x="{_PAD}" y="{_PAD}" width="{_W - 2 * _PAD}" height="{_H - 2 * _PAD}" '
            'fill="none" stroke="#ccc"/>'
            f'<polyline fill="none" stroke="#1f77b4" stroke-width="1.5" '
            f'points="{_polyline(train, sx, sy)}"/>'
            f'<polyline fill="none" stroke="#ff7f0e" stroke-width="1.5" '
            f'points="{_polyline(evals, sx, sy)}"/>'
            f'<text x="{_PAD}" y="{_PAD - 8}" font-size="12">loss {y1:.4g}</text>'
            f'<text x="{_PAD}" y="{_H - _PAD + 16}" font-size="12">{y0:.4g} · step {x0}</text>'
            f'<text x="{_W - _PAD}" y="{_H - _PAD + 16}" font-size="12" text-anchor="end">'
            f"step {x1}</text></svg>"
        )
    last = records[-1] if records else {}
    rows = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in last.items()
    )
    refresh = '<meta http-equiv="refresh" content="5">' if running else ""
    state = "running" if running else "finished"
    page = (
        f'<!doctype html><html><head><meta charset="utf-8">{refresh}'
        f'<title>{html.escape(title)}</title></head><body style="font-family:sans-serif">'
        f'<h1>{html.escape(title)}</h1><p>{state}; <span style="color:#1f77b4">train loss</span>'
        f', <span style="color:#ff7f0e">eval loss</span></p>{svg}'
        f"<h2>last record</h2><table>{rows}</table></body></html>"
    )
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, path)
    return path
