"""Write an evaluation: ``eval.jsonl`` (one row per question, every field), ``eval.md`` and
``eval.html`` (the summary and the before/after table: question, reference, base and tuned
answers, their losses, the verdict, the judge's note) and ``summary.json``. Files are written
atomically; text is UTF-8 with CJK kept as is. The HTML escapes every value (answers are model
output, untrusted)."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from ..io.atomic import write_atomic
from .evaluate import EvalResult, EvalRow, row_dict

__all__ = ["summary_lines", "write_eval"]


def _fmt(x: float | None, digits: int = 3) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def summary_lines(result: EvalResult) -> list[str]:
    s = result.summary
    lines = [
        f"base: {result.base}",
        f"tuned: {result.tuned}",
        f"questions: {s['questions']} ({s['skipped']} skipped)",
        f"loss over {s['loss_tokens']} answer tokens: base {_fmt(s['base_loss'])} "
        f"(perplexity {_fmt(s['base_perplexity'], 2)}), tuned {_fmt(s['tuned_loss'])} "
        f"(perplexity {_fmt(s['tuned_perplexity'], 2)})",
    ]
    if result.judge_model is None:
        lines.append("judge: none (pass --judge-model to compare the answers)")
    else:
        rate = "–" if s["win_rate"] is None else f"{100 * s['win_rate']:.1f}%"
        lines.append(
            f"judge {result.judge_model}: tuned wins {s['wins']}, base wins {s['losses']}, "
            f"ties {s['ties']}, failed {s['judge_failed']}; win rate {rate} (a tie counts half)"
        )
    return lines


def _cells(row: EvalRow) -> list[str]:
    verdict = row.verdict or ("error" if row.judge and "error" in row.judge else "")
    return [
        row.question,
        row.reference or "",
        row.base_answer if row.base_answer is not None else f"({row.skipped})",
        row.tuned_answer if row.tuned_answer is not None else f"({row.skipped})",
        _fmt(row.base_loss),
        _fmt(row.tuned_loss),
        verdict,
        _note(row),
    ]


def _note(row: EvalRow) -> str:
    """The judge's word on the row: its rationales, why no call was needed, or why it failed."""
    judge = row.judge or {}
    if "error" in judge:
        return f"judge failed: {judge['error']}"
    notes = [judge["note"]] if judge.get("note") else []
    for v in judge.get("verdicts") or []:
        for why in v.get("rationales") or []:
            if why and why not in notes:  # both orders often give the same reason
                notes.append(why)
    return " / ".join(notes)


_HEAD = [
    "question",
    "reference",
    "base answer",
    "tuned answer",
    "base loss",
    "tuned loss",
    "verdict",
    "judge's note",
]


def _md_cell(text: str) -> str:
    """One table cell: model output shown as text (HTML escaped, pipes and newlines kept)."""
    text = html.escape(text, quote=False).replace("\\", "\\\\").replace("|", "\\|")
    return text.replace("\r", "").replace("\n", "<br>")


def _markdown(result: EvalResult) -> str:
    out = ["# Before / after", "", *(f"- {line}" for line in summary_lines(result)), ""]
    out.append("| # | " + " | ".join(_HEAD) + " |")
    out.append("|---" * (len(_HEAD) + 1) + "|")
    for i, row in enumerate(result.rows, 1):
        out.append(f"| {i} | " + " | ".join(_md_cell(c) for c in _cells(row)) + " |")
    return "\n".join(out) + "\n"


_STYLE = (
    "body{font-family:system-ui,'Noto Sans CJK SC',sans-serif;margin:2em}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.4em;vertical-align:top;"
    "white-space:pre-wrap}.tuned{background:#e6f4ea}.base{background:#fce8e6}.tie{background:#f1f3f4}"
)


def _html(result: EvalResult) -> str:
    e = html.escape
    head = "".join(f"<th>{e(h)}</th>" for h in ["#", *_HEAD])
    body = []
    for i, row in enumerate(result.rows, 1):
        cells = "".join(f"<td>{e(c)}</td>" for c in _cells(row))
        body.append(f'<tr class="{e(row.verdict or "")}"><td>{i}</td>{cells}</tr>')
    items = "".join(f"<li>{e(line)}</li>" for line in summary_lines(result))
    return (
        '<!doctype html><html><head><meta charset="utf-8"><title>Before / after</title>'
        f"<style>{_STYLE}</style></head><body><h1>Before / after</h1><ul>{items}</ul>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        "</body></html>\n"
    )


def _write(path: Path, text: str) -> None:
    write_atomic(path, text.encode("utf-8"))


def write_eval(result: EvalResult, out: str | Path) -> dict[str, Path]:
    """Write the four files into the folder ``out``; returns their paths by kind."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {k: folder / f"eval.{k}" for k in ("jsonl", "md", "html")}
    paths["summary"] = folder / "summary.json"
    rows: list[dict[str, Any]] = [row_dict(r) for r in result.rows]
    _write(paths["jsonl"], "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    _write(paths["md"], _markdown(result))
    _write(paths["html"], _html(result))
    _write(paths["summary"], json.dumps(result.to_dict(), ensure_ascii=False, indent=2) + "\n")
    return paths
