"""Evaluate a tuned model against its base: loss and perplexity, both answers, an LLM judge.

``evaluate(tuned, base, questions)``:

* **Questions** are read by sftforge's one reader (``sftforge.read``): a dataset file in any
  format it reads (the test split a recipe wrote), a run folder (its ``test`` output, from
  ``report.json``), or a text file with one question per line. A conversation's prompt is every
  turn before its last assistant turn; that answer is the reference.
* **Loss and perplexity** of each model on the samples that have a reference: each sample is
  tokenized by sftforge's own path (``chat.tokenize``, the model's chat template, the labels
  ``tokenize`` would write, so the tokens scored are the tokens trained) and the model's mean
  cross-entropy over the trained tokens is taken. The set's perplexity is ``exp`` of the
  token-weighted mean loss. Rows tokenize rejects (over ``max_len``...) carry the reason instead.
* **Answers**: both models answer each prompt greedily (``train.chat.chat_turn``).
* **Verdicts**: with a judge (``LLMConfig``), the existing pairwise judge (``generate.judge
  .JudgePair``: both orders, an order-dependent verdict is a tie) says which answer is better:
  ``tuned``, ``base`` or ``tie`` (identical answers are a tie without a call). A call that fails
  leaves the verdict empty with the reason. The win rate counts a tie as half a win, over the
  questions judged.

Nothing is dropped: every question read is one ``EvalRow`` (``skipped`` names why a record
could not be asked, e.g. it does not end with a user turn).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..progress import stage
from ..sample import Document, Message, Sample
from .chat import GenerationSettings, chat_turn
from .load import LoadedModel

__all__ = ["EvalResult", "EvalRow", "evaluate", "read_questions", "row_dict", "score_losses"]


@dataclass
class EvalRow:
    """One question: the prompt, the reference, both answers and losses, the verdict."""

    id: str
    prompt: list[dict[str, Any]]
    reference: str | None = None
    base_answer: str | None = None
    tuned_answer: str | None = None
    base_loss: float | None = None
    tuned_loss: float | None = None
    tokens: int | None = None  # trained tokens the losses are over
    loss_note: str | None = None  # why there is no loss (no reference, too long...)
    verdict: str | None = None  # tuned | base | tie
    judge: dict[str, Any] | None = None  # the judge's verdicts, or its error
    skipped: str | None = None

    @property
    def question(self) -> str:
        return str(self.prompt[-1]["content"]) if self.prompt else ""


@dataclass
class EvalResult:
    rows: list[EvalRow]
    base: str
    tuned: str
    judge_model: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"base": self.base, "tuned": self.tuned, "judge": self.judge_model, **self.summary}


def _test_output(folder: Path) -> Path:
    """A run folder's ``test`` output, as its report.json names it."""
    report = folder / "report.json"
    outputs: dict[str, Any] = {}
    if report.is_file():
        outputs = json.loads(report.read_text(encoding="utf-8")).get("outputs") or {}
    test = outputs.get("test")
    if not test:
        raise InputError(
            f"'{folder}' is not a run folder with a test split "
            f"(outputs in its report.json: {', '.join(outputs) or 'none'}).",
            field="questions",
            hint="pass the test file itself, or add split + a test output to the recipe",
        )
    path = Path(test["path"])
    return path if path.is_absolute() or path.exists() else folder / path.name


def read_questions(path: str | Path, *, fmt: str | None = None) -> list[Sample]:
    """The samples to evaluate on: see the module docstring."""
    from ..api import read

    src = Path(path)
    if src.is_dir():
        src = _test_output(src)
    out = []
    with read(src, fmt, require_answer=False) as reader:
        for item in reader:
            if isinstance(item, Document):
                item = Sample([Message("user", item.text)], id=item.id)
            out.append(item)
    if not out:
        raise InputError(f"'{path}' holds no questions.", file=str(src))
    return out


def _split(sample: Sample) -> tuple[list[dict[str, Any]], str | None, str | None]:
    """(prompt messages, reference answer, why it cannot be asked)."""
    from ..chat.render import message_dicts

    msgs = message_dicts(sample)
    reference = None
    if msgs and msgs[-1]["role"] == "assistant":
        reference = str(msgs[-1]["content"])
        msgs = msgs[:-1]
    if not msgs or msgs[-1]["role"] != "user":
        return msgs, reference, "the conversation does not end with a user turn to answer"
    return msgs, reference, None


def score_losses(
    model: LoadedModel, samples: list[Sample], *, max_len: int | None = None
) -> dict[str, tuple[float, int] | str]:
    """Per sample id: (mean loss over its trained tokens, their number), or why there is none."""
    import torch

    from ..chat.encode import IGNORE_INDEX
    from ..chat.tokenize import ChatTokenizer, tokenize_samples

    chat = ChatTokenizer(model.tokenizer, model.template, max_len=max_len)
    result = tokenize_samples(samples, chat, role_stats=False, threads=False)
    out: dict[str, tuple[float, int] | str] = {
        r.sample.id: f"{r.reason}: {r.value}" if r.value is not None else r.reason
        for r in result.rejects
    }
    for row in result.rows:
        ids = torch.tensor([row.input_ids], device=model.device)
        labels = torch.tensor([row.labels], device=model.device)
        with torch.no_grad():
            logits = model.model(input_ids=ids).logits.float()
        # position t predicts token t+1: shift as transformers' causal LM loss does
        loss = torch.nn.functional.cross_entropy(
            logits[0, :-1], labels[0, 1:], ignore_index=IGNORE_INDEX, reduction="sum"
        )
        n = int((labels[0, 1:] != IGNORE_INDEX).sum())
        out[row.id] = (float(loss) / n, n) if n else "no trained tokens after the first"
    return out


def _perplexity(rows: list[EvalRow], side: str) -> tuple[float | None, float | None]:
    scored: list[tuple[float, int]] = []
    for r in rows:
        loss = getattr(r, f"{side}_loss")
        if loss is not None and r.tokens:
            scored.append((loss, r.tokens))
    total = sum(n for _, n in scored)
    if not total:
        return None, None
    mean = sum(loss * n for loss, n in scored) / total
    return mean, math.exp(mean)


def evaluate(
    tuned: LoadedModel,
    base: LoadedModel,
    samples: list[Sample],
    *,
    judge: Any = None,
    settings: GenerationSettings | None = None,
    max_len: int | None = None,
) -> EvalResult:
    """Losses, both answers and (with ``judge``, an ``LLMConfig``) verdicts; see the module doc."""
    rows = []
    for s in samples:
        prompt, reference, skipped = _split(s)
        rows.append(EvalRow(s.id, prompt, reference, skipped=skipped))
    with_answers = [s for s, r in zip(samples, rows, strict=True) if r.reference is not None]
    losses = {
        side: score_losses(model, with_answers, max_len=max_len)
        for side, model in (("base", base), ("tuned", tuned))
    }
    with stage("eval: answers", len(rows), unit="questions", line=True) as st:
        for row in rows:
            _fill_losses(row, losses)
            if row.skipped is None:
                row.base_answer = chat_turn(base, row.prompt, settings=settings)
                row.tuned_answer = chat_turn(tuned, row.prompt, settings=settings)
            st.advance()
    judge_model = None
    if judge is not None:
        from .judging import judge_rows

        judge_rows(rows, judge)
        judge_model = judge.model
    result = EvalResult(rows, str(base.path), str(tuned.path), judge_model)
    result.summary = _summary(rows, judged=judge is not None)
    return result


def _fill_losses(row: EvalRow, losses: dict[str, dict[str, tuple[float, int] | str]]) -> None:
    if row.reference is None:
        row.loss_note = "no reference answer"
        return
    for side in ("base", "tuned"):
        got = losses[side].get(row.id, "not tokenized")
        if isinstance(got, str):
            row.loss_note = got
        else:
            setattr(row, f"{side}_loss", got[0])
            row.tokens = got[1]


def _summary(rows: list[EvalRow], *, judged: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"questions": len(rows), "skipped": sum(bool(r.skipped) for r in rows)}
    for side in ("base", "tuned"):
        loss, ppl = _perplexity(rows, side)
        out[f"{side}_loss"], out[f"{side}_perplexity"] = loss, ppl
    out["loss_tokens"] = sum(r.tokens or 0 for r in rows if r.tuned_loss is not None)
    if judged:
        verdicts = [r.verdict for r in rows if r.verdict is not None]
        wins, losses, ties = (verdicts.count(v) for v in ("tuned", "base", "tie"))
        out.update(wins=wins, losses=losses, ties=ties)
        out["judge_failed"] = sum(1 for r in rows if r.skipped is None and r.verdict is None)
        out["win_rate"] = (wins + ties / 2) / len(verdicts) if verdicts else None
    return out


def row_dict(row: EvalRow) -> dict[str, Any]:
    """The JSONL form of a row (every field, ``None`` ones included so columns line up)."""
    return asdict(row)
