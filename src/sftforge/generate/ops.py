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

doc_qa, backtranslate and self_instruct make samples from documents or seed tasks, not from
their input: their step passes every input sample through unchanged and then adds the generated
samples (counted as ``generated``; those a quality rule eliminated are rejected as added
samples). The option ``documents`` (doc_qa, backtranslate: a file or a folder, read like
``sftforge generate``) or ``seeds`` (self_instruct: a ``seed_tasks.jsonl``) names the source;
a relative path is resolved against the recipe's folder, like the recipe's inputs. Failed items
go only to the ``failed`` file (no input row stands for them).

Registered names: respond, judge, judge_pair, evol_instruct, paraphrase, translate, doc_qa,
backtranslate, self_instruct.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ..errors import RecipeError
from ..llm.config import LLMConfig
from ..ops.base import GlobalOp, Reject, register_op
from ..sample import Sample
from .base import GENERATORS, Generator, build_generator
from .docparse import SkippedDocument, load_documents
from .io import read_seeds, write_jsonl
from .run import GenerationResult, generate

# runs a generator over items with an LLM config; an executor that spreads the calls over
# machines (the Ray executor) sets ``GenerateOp.runner`` to its own for the stage
GenerationRunner = Callable[[Generator, list[Any], LLMConfig], GenerationResult]

__all__ = [
    "OP_TASKS",
    "SOURCE_TASKS",
    "DocumentsOp",
    "GenerateOp",
    "GenerationRunner",
    "SeedsOp",
    "SourceOp",
]

OP_TASKS = ("respond", "judge", "judge_pair", "evol_instruct", "paraphrase", "translate")
SOURCE_TASKS = ("doc_qa", "backtranslate", "self_instruct")
_DERIVING = ("evol_instruct", "paraphrase", "translate")
ADDED_KEY = "extra"  # the meta key the pipeline reads to count a sample as added, not as an input


@dataclass(kw_only=True)
class GenerateOp(GlobalOp):
    """Base of the generated ops; ``task`` names the generator."""

    task: ClassVar[str] = ""
    llm: dict[str, Any] = field(default_factory=dict)
    failed: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self.runner: GenerationRunner | None = None  # None: this process makes the calls
        # the generator's options and the llm mapping are checked now, before any work
        build_generator(self.task, self.generator_options())
        try:
            LLMConfig.from_dict(self.llm)
        except RecipeError as exc:
            exc.field = "llm" + (f".{exc.field}" if exc.field else "")
            raise

    def generator_options(self) -> dict[str, Any]:
        names = {f.name for f in dataclasses.fields(GENERATORS[self.task]) if f.init}
        return {k: v for k, v in self.options().items() if k in names}

    def _generate(self, items: list[Any]) -> GenerationResult:
        """Run the generator over ``items``; failed items go to the ``failed`` file."""
        gen = build_generator(self.task, self.generator_options())
        # progress=True: inside `sftforge run` the step shows its own bar (or lines); a library
        # caller has progress off (sftforge.progress) and sees nothing
        cfg = LLMConfig.from_dict(self.llm)
        if self.runner is not None:
            res = self.runner(gen, items, cfg)
        else:
            res = generate(gen, items, cfg, progress=True)
        if self.failed and res.failed:
            write_jsonl(self.failed, res.failed)
        for k in ("requests", "cache_hits", "retries", "prompt_tokens", "completion_tokens"):
            self.counters.extra[f"llm_{k}"] += int(res.summary.get(k, 0))
        self.counters.extra["llm_failed"] += len(res.failed)
        return res

    def _added(
        self,
        samples: list[Sample],
        dropped: list[dict[str, Any]],
        reject: Callable[[Reject], None],
    ) -> list[Sample]:
        """Mark new samples as added (``generated``); the dropped ones are rejected as added."""
        self.counters.extra["generated"] += len(samples) + len(dropped)
        for d in dropped:
            gone = Sample.from_dict(d["sample"])
            gone.meta[ADDED_KEY] = self.task
            self.drop(reject, Reject(gone, self.name, d["reason"], d.get("value")))
        for s in samples:
            s.meta[ADDED_KEY] = self.task
        return samples

    def run(
        self, source: Callable[[], Iterator[Sample]], reject: Callable[[Reject], None]
    ) -> Iterator[Sample]:
        inputs = list(source())
        self.counters.seen += len(inputs)
        res = self._generate(inputs)
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
        self._added(samples, dropped, reject)
        self.counters.kept += len(inputs) + len(samples)
        yield from inputs
        yield from samples


@dataclass(kw_only=True)
class SourceOp(GenerateOp):
    """Base of the ops that generate from documents or seed tasks: the input passes through
    unchanged, then the generated samples follow (see the module docstring)."""

    source_option: ClassVar[str] = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not str(getattr(self, self.source_option) or "").strip():
            what = (
                "seed tasks (a seed_tasks.jsonl)"
                if self.source_option == "seeds"
                else ("documents (a file or a folder)")
            )
            raise ValueError(f"'{self.source_option}' is required: the {what} to generate from")
        self._base_dir: Path | None = None

    def bind_recipe_dir(self, base_dir: Path) -> None:
        """Resolve the source against the recipe's folder; a missing one fails before any work."""
        self._base_dir = Path(base_dir)
        path = self.source_path()
        if not path.exists():
            raise RecipeError(
                f"{self.name}: {self.source_option} '{getattr(self, self.source_option)}'"
                f" does not exist (looked for {path}).",
                field=self.source_option,
                hint="paths are relative to the recipe's folder",
            )

    def source_path(self) -> Path:
        p = Path(str(getattr(self, self.source_option))).expanduser()
        return p if p.is_absolute() else (self._base_dir or Path.cwd()) / p

    def load_items(self) -> list[Any]:
        path = self.source_path()
        if self.source_option == "seeds":
            return read_seeds(path)
        skipped: list[SkippedDocument] = []
        follow = bool(getattr(self, "follow_symlinks", False))
        docs = load_documents(path, follow_symlinks=follow, skipped=skipped)
        # a damaged document or a symlink out of the folder is left out, counted in the report
        self.counters.extra["documents_skipped"] += len(skipped)
        return docs

    def run(
        self, source: Callable[[], Iterator[Sample]], reject: Callable[[Reject], None]
    ) -> Iterator[Sample]:
        n = 0
        for s in source():  # streamed: the input is never held in memory
            n += 1
            yield s
        self.counters.seen += n
        res = self._generate(self.load_items())
        added = self._added(res.samples, res.dropped, reject)
        self.counters.kept += n + len(added)
        yield from added


@dataclass(kw_only=True)
class DocumentsOp(SourceOp):
    """doc_qa and backtranslate as steps: ``documents`` is a file or a folder of documents."""

    source_option: ClassVar[str] = "documents"
    documents: str = ""
    follow_symlinks: bool = False  # read symlinks in the folder that lead outside it


@dataclass(kw_only=True)
class SeedsOp(SourceOp):
    """self_instruct as a step: ``seeds`` is a ``seed_tasks.jsonl``."""

    source_option: ClassVar[str] = "seeds"
    seeds: str = ""


def _make(task: str, base: type[GenerateOp] = GenerateOp) -> type[GenerateOp]:
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
        bases=(base,),
        kw_only=True,
        namespace={"__doc__": gcls.__doc__},
    )
    cls.task = task
    register_op(task)(cls)
    return cls


for _task in OP_TASKS:
    _make(_task)
_make("doc_qa", DocumentsOp)
_make("backtranslate", DocumentsOp)
_make("self_instruct", SeedsOp)
