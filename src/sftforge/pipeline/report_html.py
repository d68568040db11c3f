"""``report.html``: the run report as one self-contained page (inline CSS and SVG, no scripts).

Nothing is fetched when the page opens: no external stylesheet, font, script or image. Every
value taken from the data is HTML-escaped.
"""

from __future__ import annotations

from html import escape
from typing import Any

import orjson

__all__ = ["render_html"]

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI","Noto Sans CJK SC",sans-serif;margin:24px;
color:#1b1f24;background:#fafbfc;max-width:1200px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #d0d7de}
table{border-collapse:collapse;margin:8px 0}td,th{padding:4px 10px;border-bottom:1px solid #eaeef2;
text-align:right}th{background:#f0f3f6}td.l,th.l{text-align:left}
.grid{display:flex;flex-wrap:wrap;gap:14px}.card{background:#fff;border:1px solid #d0d7de;
border-radius:6px;padding:8px 12px}.muted{color:#57606a;font-size:12px}
.bar{fill:#0969da}.bar2{fill:#bf8700}pre{white-space:pre-wrap;word-break:break-all;font-size:12px;
background:#f6f8fa;padding:8px;max-height:300px;overflow:auto}
.drop{display:inline-block;height:10px;background:#cf222e;vertical-align:middle}
.keep{display:inline-block;height:10px;background:#1a7f37;vertical-align:middle}
"""


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _svg_hist(h: dict[str, Any], cls: str = "bar", w: int = 260, hgt: int = 90) -> str:
    if h.get("kind") == "categorical":
        top = h.get("top") or []
        if not top:
            return "<div class=muted>no values</div>"
        peak = max(n for _, n in top) or 1
        rows = "".join(
            f"<tr><td class=l>{_e(k)}</td><td>{n}</td><td class=l>"
            f"<span class=keep style='width:{int(120 * n / peak)}px'></span></td></tr>"
            for k, n in top[:15]
        )
        return f"<table>{rows}</table>"
    counts = h.get("counts") or []
    if not counts:
        return "<div class=muted>no values</div>"
    peak = max(counts) or 1
    bw = w / len(counts)
    bars = "".join(
        f"<rect class={cls} x='{i * bw:.1f}' y='{hgt - hgt * c / peak:.1f}' width='{bw - 1:.1f}'"
        f" height='{hgt * c / peak:.1f}'><title>{c}</title></rect>"
        for i, c in enumerate(counts)
    )
    return (
        f"<svg width='{w}' height='{hgt}' role='img'>{bars}</svg>"
        f"<div class=muted>n={h['n']} min={h['min']} p50={h['p50']} p95={h['p95']}"
        f" max={h['max']} mean={h['mean']}</div>"
    )


def _funnel(report: dict[str, Any]) -> str:
    rows = []
    for s in report["steps"]:
        seen = s["seen"] or 1
        dropped = sum(s["dropped"].values())
        reasons = ", ".join(f"{_e(k)}: {v}" for k, v in s["dropped"].items()) or "—"
        extra = ", ".join(f"{_e(k)}: {v}" for k, v in s["extra"].items())
        rows.append(
            f"<tr><td>{s['step']}</td><td class=l>{_e(s['op'])}</td><td>{s['seen']}</td>"
            f"<td>{s['kept']}</td><td>{dropped}</td><td class=l>"
            f"<span class=keep style='width:{int(160 * s['kept'] / seen)}px'></span>"
            f"<span class=drop style='width:{int(160 * dropped / seen)}px'></span></td>"
            f"<td class=l>{reasons}</td><td>{s['seconds']}</td><td>{s['throughput'] or '—'}</td>"
            f"<td>{s['peak_rss_mb']}</td><td class=l>{extra}</td></tr>"
        )
    head = (
        "<tr><th>#</th><th class=l>operator</th><th>seen</th><th>kept</th><th>dropped</th>"
        "<th class=l>funnel</th><th class=l>drops by reason</th><th>seconds</th>"
        "<th>samples/s</th><th>peak RSS MB</th><th class=l>counters</th></tr>"
    )
    return f"<table>{head}{''.join(rows)}</table>"


def _inputs(report: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td class=l>{_e(name)}</td><td>{r['read']}</td><td>{r['kept']}</td>"
        f"<td>{r['rejected']}</td></tr>"
        for name, r in report["counts"]["per_input"].items()
    )
    return (
        "<table><tr><th class=l>input</th><th>read</th><th>kept</th><th>rejected</th></tr>"
        f"{rows}</table>"
    )


def _cards(groups: dict[str, Any], cls: str = "bar") -> str:
    if not groups:
        return "<p class=muted>none</p>"
    cards = "".join(
        f"<div class=card><b>{_e(k)}</b>{_svg_hist(h, cls)}</div>" for k, h in groups.items()
    )
    return f"<div class=grid>{cards}</div>"


def _counter_table(d: dict[str, Any], key: str, val: str) -> str:
    rows = "".join(f"<tr><td class=l>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in d.items())
    return f"<table><tr><th class=l>{key}</th><th>{val}</th></tr>{rows}</table>"


def _examples(report: dict[str, Any]) -> str:
    parts = []
    for reason, recs in report["reject_examples"].items():
        body = "".join(
            f"<pre>{_e(orjson.dumps(r, option=orjson.OPT_INDENT_2).decode()[:3000])}</pre>"
            for r in recs
        )
        parts.append(
            f"<details><summary>{_e(reason)} ({len(recs)} shown)</summary>{body}</details>"
        )
    return "".join(parts) or "<p class=muted>nothing was rejected</p>"


def render_html(report: dict[str, Any]) -> str:
    c = report["counts"]
    nested = {name: _counter_table(d, "kind", "count") for name, d in report["pii"].items()} | {
        name: _counter_table(d, "cluster size", "clusters")
        for name, d in report["dedup_clusters"].items()
    }
    extra = "".join(f"<div class=card><b>{_e(k)}</b>{v}</div>" for k, v in nested.items())
    outputs = "".join(
        f"<li>{_e(split)}: <code>{_e(o['path'])}</code> ({_e(o['format'])})</li>"
        for split, o in report["outputs"].items()
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>sftforge run report</title>
<style>{_CSS}</style></head><body>
<h1>sftforge run report</h1>
<p>read <b>{c["read"]}</b> · kept <b>{c["kept"]}</b> · rejected <b>{c["rejected"]}</b>
· added <b>{c["added"]}</b> · {report["seconds"]} s · {report["throughput"] or "—"} samples/s
· workers {report["workers"]} · peak RSS main {report["peak_rss_mb"]["main"]} MB,
workers {report["peak_rss_mb"]["workers"]} MB · sftforge {_e(report["sftforge"])}</p>
<ul>{outputs}</ul>
<h2>Inputs</h2>{_inputs(report)}
<h2>Operators</h2>{_funnel(report)}
<h2>Filter metrics</h2>{_cards(report["metrics"])}
<h2>Message lengths (characters) before</h2>{_cards(report["lengths"]["before"])}
<h2>Message lengths (characters) after</h2>{_cards(report["lengths"]["after"], "bar2")}
<h2>Languages</h2>{_counter_table(report["languages"], "language", "samples") if report["languages"] else "<p class=muted>no language metric</p>"}
<h2>Personal data and dedup clusters</h2><div class=grid>{extra or "<p class=muted>none</p>"}</div>
<h2>Rejected examples by reason</h2>{_examples(report)}
</body></html>
"""
