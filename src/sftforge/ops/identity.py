"""``identity``: mix a self-cognition set ("who are you?", "谁开发了你？") into the data.

Questions and answers come from our own templates (``ops/data/identity.json``: 34 questions and
32 answers each in English and Chinese; every answer names both the model and its author, so any
answer fits any question). ``{{name}}`` and ``{{author}}`` are replaced literally by the options
``model_name`` and ``author`` (no template
engine, nothing evaluated). A custom JSON of the same shape can be given as ``templates``.

How many: ``count`` samples, or a ``share`` of the output (k = share x N / (1 - share) for N
input samples). Which: (language, question, answer) combinations shuffled with ``seed`` and taken
in turn, so no combination repeats before all have been used. Where: ``k`` output positions drawn
with ``seed``; the input keeps its order around them. Generated samples have ids
``identity-000000``..., ``meta["source"] = "identity"`` and ``meta["lang"]``; the operator counts
them in ``counters.extra["generated"]`` (they are outputs without an input row).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from typing import Any

from ..errors import RecipeError
from ..sample import Message, Sample
from .base import GlobalOp, Reject, register_op

__all__ = ["Identity", "load_templates"]


def load_templates(path: str | None = None) -> dict[str, dict[str, list[str]]]:
    """{lang: {"questions": [...], "answers": [...]}} from ``path`` or the bundled file."""
    if path is None:
        text = resources.files("sftforge.ops").joinpath("data/identity.json").read_text("utf-8")
    else:
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        except OSError as exc:
            raise RecipeError(f"identity: cannot read templates: {exc}", file=path) from exc
    data = json.loads(text)
    for lang, entry in data.items():
        if not entry.get("questions") or not entry.get("answers"):
            raise RecipeError(
                f"identity templates for '{lang}' need non-empty 'questions' and 'answers'",
                file=path,
            )
    return data


@register_op("identity")
@dataclass(kw_only=True)
class Identity(GlobalOp):
    """Self-cognition samples naming ``model_name`` and ``author``, at ``share`` or ``count``."""

    model_name: str = ""  # fills {{name}}; ``name`` itself is the operator's registry name
    author: str = ""
    share: float | None = 0.02
    count: int | None = None
    languages: tuple[str, ...] | list[str] = ("en", "zh")
    system: str | None = None
    templates: str | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.model_name.strip() or not self.author.strip():
            raise ValueError("identity needs both 'model_name' and 'author'")
        if self.count is not None:
            self.share = None
        if self.count is None and (self.share is None or not 0.0 <= self.share < 1.0):
            raise ValueError(f"share must be in [0, 1), got {self.share}")
        if self.count is not None and self.count < 0:
            raise ValueError(f"count must not be negative, got {self.count}")
        self.bank = load_templates(self.templates)
        unknown = sorted(set(self.languages) - set(self.bank))
        if unknown:
            raise ValueError(f"no identity templates for {unknown}; have {sorted(self.bank)}")

    def fill(self, text: str) -> str:
        return text.replace("{{name}}", self.model_name).replace("{{author}}", self.author)

    def how_many(self, n_input: int) -> int:
        if self.count is not None:
            return self.count
        share = self.share or 0.0
        return round(share * n_input / (1.0 - share))

    def generate(self, k: int) -> list[Sample]:
        """``k`` samples, cycling through the seeded shuffle of all combinations."""
        combos = [
            (lang, q, a)
            for lang in self.languages
            for q in self.bank[lang]["questions"]
            for a in self.bank[lang]["answers"]
        ]
        random.Random(self.seed).shuffle(combos)
        out: list[Sample] = []
        for i in range(k):
            lang, q, a = combos[i % len(combos)]
            msgs = [Message("system", self.system)] if self.system else []
            msgs += [Message("user", self.fill(q)), Message("assistant", self.fill(a))]
            meta: dict[str, Any] = {"source": "identity", "lang": lang}
            out.append(Sample(msgs, id=f"identity-{i:06d}", meta=meta))
        return out

    def run(
        self,
        source: Callable[[], Iterator[Sample]],
        reject: Callable[[Reject], None],
    ) -> Iterator[Sample]:
        n = sum(1 for _ in source())
        extra = self.generate(self.how_many(n))
        slots = sorted(random.Random(self.seed + 1).sample(range(n + len(extra)), len(extra)))
        self.counters.extra["generated"] += len(extra)
        pos = nxt = 0
        for s in source():
            while nxt < len(slots) and slots[nxt] == pos:
                yield extra[nxt]
                nxt, pos = nxt + 1, pos + 1
            self.counters.seen += 1
            self.counters.kept += 1
            pos += 1
            yield s
        yield from extra[nxt:]
