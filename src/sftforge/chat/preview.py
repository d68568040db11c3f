"""Showing which tokens of a sample are trained: in the terminal (rich) and as one HTML page.

``explain`` cuts the rendered text at token boundaries (from the tokenizer's offsets) into
stretches that are trained or masked, so what is shown is the exact text the model sees, special
tokens and whitespace included. Without offsets (Python-only tokenizers) each stretch is decoded.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from rich.console import Console
from rich.text import Text

from ..sample import Sample
from .encode import IGNORE_INDEX
from .output import segments
from .tokenize import ChatTokenizer

__all__ = ["Explained", "explain", "print_rich", "to_html", "to_rich"]


@dataclass(frozen=True, slots=True)
class Explained:
    sample_id: str
    pieces: list[tuple[str, bool]]  # (text, trained)
    n_tokens: int
    n_trained: int


def explain(chat: ChatTokenizer, sample: Sample) -> Explained:
    """Render and tokenize ``sample`` (no truncation) and split it into trained/masked stretches."""
    rendered = chat.render(sample)
    ids, labels, enc = chat.encode([rendered])[0]
    pieces: list[tuple[str, bool]] = []
    if enc is None:
        for group, trained in segments(ids, labels):
            pieces.append((chat.tokenizer.decode(group, skip_special_tokens=False), trained))
    else:
        offsets = enc.offsets
        cut = 0
        for k in range(len(ids)):
            trained = labels[k] != IGNORE_INDEX
            end = offsets[k + 1][0] if k + 1 < len(ids) else len(rendered.text)
            end = max(end, cut)
            if pieces and pieces[-1][1] == trained:
                pieces[-1] = (pieces[-1][0] + rendered.text[cut:end], trained)
            else:
                pieces.append((rendered.text[cut:end], trained))
            cut = end
    n_trained = sum(1 for x in labels if x != IGNORE_INDEX)
    return Explained(sample.id, [p for p in pieces if p[0]], len(ids), n_trained)


def to_rich(ex: Explained) -> Text:
    text = Text()
    text.append(f"sample {ex.sample_id}: {ex.n_tokens} tokens, {ex.n_trained} trained\n", "bold")
    text.append("trained", "bold black on green")
    text.append("  masked\n\n", "dim")
    for piece, trained in ex.pieces:
        text.append(piece, "black on green" if trained else "dim")
    return text


def print_rich(ex: Explained, console: Console | None = None) -> None:
    (console or Console()).print(to_rich(ex))


_CSS = (
    "body{font-family:system-ui,sans-serif;margin:2em}"
    "pre{white-space:pre-wrap;font-family:ui-monospace,monospace;line-height:1.5}"
    ".t{background:#c8f7c5;color:#0b3d0b}.m{color:#888}"
    ".legend span{padding:0 .4em;margin-right:1em}"
)


def to_html(examples: list[Explained], title: str = "sftforge preview") -> str:
    """One self-contained page (inline CSS, no scripts) with every example."""
    body = []
    for ex in examples:
        spans = "".join(
            f'<span class="{"t" if trained else "m"}">{html.escape(piece)}</span>'
            for piece, trained in ex.pieces
        )
        body.append(
            f"<h2>{html.escape(ex.sample_id)}</h2><p>{ex.n_tokens} tokens, "
            f"{ex.n_trained} trained</p><pre>{spans}</pre>"
        )
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"
        '<p class="legend"><span class="t">trained</span><span class="m">masked</span></p>'
        f"{''.join(body)}</body></html>\n"
    )
