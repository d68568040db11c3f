"""Generators as pipeline steps: ``GlobalOp``s built from the generator classes.

Each op has the generator's options plus ``llm`` (an ``LLMConfig`` mapping: base_url, model,
api_key_env, cache, rpm, budgets...) and ``failed`` (a path for failed-item records that
``sftforge generate retry`` reads). The whole input is read once and run as one async job.
Nothing is lost: an input whose call failed for good is rejected with ``llm failed: <reason>``,
and outputs dropped by a quality rule are rejected with the rule. The ops that derive new
samples from old ones (evol_instruct, paraphrase, translate) pass the originals through too
unless ``keep_original`` is false.

Registered names: respond, judge, judge_pair, evol_instruct, paraphrase, translate. doc_qa,
self_instruct and backtranslate read documents or seed tasks, not samples, so they run from
``sftforge generate`` (or ``sftforge.generate.generate``) rather than as steps on samples.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..llm.config import LLMConfig
from ..ops.base import GlobalOp, Reject, register_op
from ..sample import Sample
from .base import GENERATORS, build_generator
from .io import write_jsonl
from .run import generate

__all__ = ["OP_TASKS", "GenerateOp"]

OP_TASKS = ("respond", "judge", "judge_pair", "evol_instruct", "paraphrase", "translate")
_DERIVING = ("evol_instruct", "paraphrase", "translate")


@dataclass(kw_only=True)
class GenerateOp(GlobalOp):
    """Base of the generated ops; ``task`` names the generator."""

    task: ClassVar[str] = ""
    llm: dict[str, Any] = field(default_factory=dict)
    failed: str | None = None
    keep_original: bool = True

    def generator_options(self) -> dict[str, Any]:
        names = {f.name for f in dataclasses.fields(GENERATORS[self.task]) if f.init}
        return {k: v for k, v in self.options().items() if k in names}

    def run(
        self, source: Callable[[], Iterator[Sample]], reject: Callable[[Reject], None]
    ) -> Iterator[Sample]:
        inputs = list(source())
        self.counters.seen += len(inputs)
        gen = build_generator(self.task, self.generator_options())
        res = generate(gen, inputs, LLMConfig.from_dict(self.llm))
        if self.task in _DERIVING and self.keep_original:
            yield from inputs
            self.counters.kept += len(inputs)
        for s in res.samples:
            self.counters.kept += 1
            yield s
        for rec in res.failed:
            inp = rec["input"]
            for s in inp.get("samples", [inp]):
                self.drop(
                    reject, Reject(Sample.from_dict(s), self.name, f"llm failed: {rec['reason']}")
                )
        for d in res.dropped:
            self.drop(
                reject,
                Reject(Sample.from_dict(d["sample"]), self.name, d["reason"], d.get("value")),
            )
        if self.failed and res.failed:
            write_jsonl(self.failed, res.failed)
        for k in ("requests", "cache_hits", "retries", "prompt_tokens", "completion_tokens"):
            self.counters.extra[f"llm_{k}"] += int(res.summary.get(k, 0))


def _make(task: str) -> type[GenerateOp]:
    gcls = GENERATORS[task]
    extra = []
    for f in dataclasses.fields(gcls):
        if not f.init:
            continue
        if f.default_factory is not dataclasses.MISSING:
            extra.append((f.name, f.type, field(default_factory=f.default_factory)))
        else:
            extra.append((f.name, f.type, field(default=f.default)))
    cls: Any = dataclasses.make_dataclass(
        f"{gcls.__name__}Op",
        extra,
        bases=(GenerateOp,),
        kw_only=True,
        namespace={"__doc__": gcls.__doc__},
    )
    cls.task = task
    register_op(task)(cls)
    return cls


for _task in OP_TASKS:
    _make(_task)
