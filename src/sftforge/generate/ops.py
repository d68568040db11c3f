"""Generators as pipeline steps: ``GlobalOp``s built from the generator classes.

Each op has the generator's options plus ``llm`` (an ``LLMConfig`` mapping: base_url, model,
api_key_env, cache, rpm, budgets...) and ``failed`` (a path for failed-item records that
``sftforge generate retry`` reads). The whole input is read once and run as one async job.
Nothing is lost: an input whose call failed for good is rejected with ``llm failed: <reason>``,
and outputs dropped by a quality rule are rejected with the rule. The ops that derive new
samples from old ones (evol_instruct, paraphrase, translate) pass the originals through and add
the new ones (counted as ``generated``); a failed derivation only goes to the failed file, since
its original is kept. ``judge_pair`` turns each group of answers into one preference sample:
the other members are rejected as "merged into a preference pair" with the pair's id.

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
ADDED_KEY = "extra"  # the meta key the pipeline reads to count a sample as added, not as an input


@dataclass(kw_only=True)
class GenerateOp(GlobalOp):
    """Base of the generated ops; ``task`` names the generator."""

    task: ClassVar[str] = ""
    llm: dict[str, Any] = field(default_factory=dict)
    failed: str | None = None

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
        if self.failed and res.failed:
            write_jsonl(self.failed, res.failed)
        for k in ("requests", "cache_hits", "retries", "prompt_tokens", "completion_tokens"):
            self.counters.extra[f"llm_{k}"] += int(res.summary.get(k, 0))
        self.counters.extra["llm_failed"] += len(res.failed)
        if self.task in _DERIVING:
            yield from self._derived(inputs, res.samples, res.dropped, reject)
            return
        dropped = 0
        for rec in res.failed:  # the input could not be processed: it goes to the rejects
            inp = rec["input"]
            for d in inp.get("samples", [inp]):
                dropped += 1
                self.drop(
                    reject, Reject(Sample.from_dict(d), self.name, f"llm failed: {rec['reason']}")
                )
        for d in res.dropped:
            dropped += 1
            self.drop(
                reject,
                Reject(Sample.from_dict(d["sample"]), self.name, d["reason"], d.get("value")),
            )
        if self.task == "judge_pair":  # the other answers of a pair are merged into it
            by_id = {s.id: s for s in inputs}
            for pair in res.samples:
                for sid in pair.meta.get("group_ids", []):
                    if sid != pair.meta.get("chosen_id") and sid in by_id:
                        dropped += 1
                        why = "merged into a preference pair"
                        self.drop(reject, Reject(by_id[sid], self.name, why, kept_id=pair.id))
        added = [s for s in res.samples if s.meta.get("candidate", 0) > 0]
        for s in added:  # respond with n > 1: the candidates after the first are new samples
            s.meta[ADDED_KEY] = self.task
        self.counters.extra["generated"] += len(added)
        self.counters.kept += len(res.samples)
        yield from res.samples

    def _derived(
        self,
        inputs: list[Sample],
        samples: list[Sample],
        dropped: list[dict[str, Any]],
        reject: Callable[[Reject], None],
    ) -> Iterator[Sample]:
        """Originals pass through; new samples are counted as generated, failed ones only in
        the failed file (the original is kept, so nothing is lost)."""
        self.counters.extra["generated"] += len(samples) + len(dropped)
        for d in dropped:
            gone = Sample.from_dict(d["sample"])
            gone.meta[ADDED_KEY] = self.task
            self.drop(reject, Reject(gone, self.name, d["reason"], d.get("value")))
        for s in samples:
            s.meta[ADDED_KEY] = self.task
        self.counters.kept += len(inputs) + len(samples)
        yield from inputs
        yield from samples


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
