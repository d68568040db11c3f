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
``identity-000000``..., ``meta["source"] = "identity"``, ``meta["lang"]`` and
``meta["identity"]`` (the names, for ``lint``); the operator counts them in
``counters.extra["generated"]`` (they are outputs without an input row).

Which split: ``split`` (default ``train``) is written to their ``meta["split"]``. Placed after a
``split`` step they go straight to that output, and ``share`` counts the samples of that split
only; placed before, the ``split`` operator keeps the split of samples from its
``pinned_sources`` (``identity`` by default) and divides the rest, so no self-cognition sample
leaks into validation. ``split: null`` treats them like any sample. ``check_placement`` refuses
recipes where they could reach no output or would be moved.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from ..errors import RecipeError
from ..sample import Message, Sample
from .base import GlobalOp, Op, Reject, register_op

__all__ = ["SOURCE", "Identity", "check_placement", "load_templates"]

SOURCE = "identity"  # meta["source"] of the generated samples


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
    split: str | None = "train"  # the split the samples belong to; None: wherever split puts them

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
        if self.split is not None and (not isinstance(self.split, str) or not self.split.strip()):
            raise ValueError(f"split must be a split name or null, not {self.split!r}")

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
            meta: dict[str, Any] = {"source": SOURCE, "lang": lang}
            meta["identity"] = {"model_name": self.model_name, "author": self.author}
            if self.split is not None:
                meta["split"] = self.split
            out.append(Sample(msgs, id=f"identity-{i:06d}", meta=meta))
        return out

    def run(
        self,
        source: Callable[[], Iterator[Sample]],
        reject: Callable[[Reject], None],
    ) -> Iterator[Sample]:
        n = in_split = 0
        for s in source():
            n += 1
            in_split += s.meta.get("split") in (None, self.split)
        # after a split step, ``share`` is a share of the split they join, not of everything
        extra = self.generate(self.how_many(in_split if self.split is not None else n))
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


def check_placement(ops: Sequence[Op], outputs: Sequence[str]) -> None:
    """Refuse, before any work, identity steps whose samples could reach no output or would be
    moved by a later ``split`` (``ops`` in recipe order, ``outputs`` the recipe's split names)."""
    for i, op in enumerate(ops):
        if not isinstance(op, Identity):
            continue
        where = f"steps[{i}].identity"
        earlier = [o for o in ops[:i] if o.name == "split"]
        later = [(k, o) for k, o in enumerate(ops) if k > i and o.name == "split"]
        if len(outputs) <= 1:
            continue  # one output takes every sample, whatever its split
        if op.split is None:
            if earlier and not later:
                raise RecipeError(
                    "identity after a split step needs 'split': with split: null its samples"
                    " have no split and would reach no output.",
                    field=where,
                    hint="set split: train (the default), or put identity before the split step",
                )
            continue
        if op.split not in outputs:
            raise RecipeError(
                f"identity puts its samples in split '{op.split}', but the outputs are"
                f" {', '.join(outputs)}.",
                field=where,
                hint=f"add a '{op.split}' output, or set identity's split to one of the outputs",
            )
        for k, sp in later:
            names = sp.split_names()  # type: ignore[attr-defined]
            if op.split not in names:
                raise RecipeError(
                    f"identity puts its samples in split '{op.split}', but the split at step"
                    f" {k + 1} makes only {', '.join(names)}.",
                    field=where,
                    hint=f"set identity's split to one of {', '.join(names)}",
                )
            if SOURCE not in sp.pinned_sources:  # type: ignore[attr-defined]
                raise RecipeError(
                    f"the split at step {k + 1} would move the identity samples out of"
                    f" '{op.split}' (its pinned_sources leave out '{SOURCE}').",
                    field=where,
                    hint=f"add '{SOURCE}' to the split's pinned_sources, or set identity's split: null",
                )
