"""The recipe step ``tokenize``.

A Filter (so that a sample that cannot become a training row is rejected with its reason, never
passed on silently): it renders and tokenizes each sample with the native mode and stores the row
in ``sample.meta["tokens"] = {"input_ids": [...], "labels": [...]}``; its metric, cached under
``meta["stats"]["tokens"]``, is ``{"n_tokens", "n_trained", "truncated", "tokens_<role>"...}``
(tokens per role, so the run report shows a histogram per role). Rejected reasons are
those of ``tokenize_samples``: template_error, too_long, too_long_last_turn, no_trained_tokens.

Options: ``tokenizer`` (folder), ``template`` (built-in name, .jinja path, or None for the
tokenizer's own), ``train_on``, ``reasoning``, ``max_len``, ``truncation``, ``unstable`` (``last``
or ``keep-reasoning`` for a template that is not prefix-stable; ``split`` needs the command).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ..errors import RecipeError
from ..ops.base import FINGERPRINTS, Filter, MetricMemo, register_op
from ..sample import Sample
from .tokenize import ChatTokenizer, tokenize_samples

__all__ = ["TokenizeStep"]


@register_op("tokenize")
@dataclass(kw_only=True)
class TokenizeStep(Filter):
    tokenizer: str = ""
    template: str | None = None
    train_on: str = "all"
    reasoning: bool = True
    max_len: int | None = None
    truncation: str = "drop"
    unstable: str | None = None

    requires: ClassVar[tuple[tuple[str, str], ...]] = (("transformers", "chat"),)
    stats_key: ClassVar[str] = "tokens"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.tokenizer:
            raise RecipeError("step 'tokenize' needs the option 'tokenizer' (a local folder).")
        if self.unstable == "split":
            raise RecipeError(
                "step 'tokenize' keeps one row per sample, so unstable: split cannot apply.",
                field="unstable",
                hint="use unstable: last or keep-reasoning here, or `sftforge tokenize --unstable split`",
            )
        self._chat: ChatTokenizer | None = None

    def _tokenizer(self) -> ChatTokenizer:
        if self._chat is None:
            self._chat = ChatTokenizer(
                self.tokenizer,
                self.template,
                train_on=self.train_on,  # type: ignore[arg-type]
                reasoning=self.reasoning,
                max_len=self.max_len,
                truncation=self.truncation,  # type: ignore[arg-type]
                unstable=self.unstable,  # type: ignore[arg-type]
            )
        return self._chat

    def stats(self, sample: Sample) -> dict[str, Any]:
        sample.meta.pop("tokens", None)  # a row from earlier content must not survive a failure
        result = tokenize_samples([sample], self._tokenizer(), role_stats=True)
        if result.rejects:
            rej = result.rejects[0]
            return {"error": rej.reason, "detail": rej.value}
        row = result.rows[0]
        sample.meta["tokens"] = {"input_ids": row.input_ids, "labels": row.labels}
        # one part per role: the run report draws a histogram for each part of a metric
        per_role = {f"tokens_{role}": n for role, n in sorted(result.stats.per_role.items())}
        return {
            "n_tokens": len(row.input_ids),
            "n_trained": row.n_trained,
            "truncated": row.truncated,
            **per_role,
        }

    def metric(self, sample: Sample, memo: MetricMemo | None = None) -> Any:
        """Always tokenized anew: the row in ``meta["tokens"]`` is this step's output, not only a
        metric, so a cached or stored metric (which carries no row, or one of other content)
        must never stand in for it."""
        key = self.metric_key()
        value = sample.meta.setdefault("stats", {})[key] = self.stats(sample)
        fps = sample.meta.get(FINGERPRINTS)
        if isinstance(fps, dict) and key in fps:  # an old stamp must not vouch for this value
            del fps[key]
            if not fps:
                del sample.meta[FINGERPRINTS]
        return value

    def decide(self, value: Any, sample: Sample) -> bool | tuple[bool, str]:
        if value.get("error"):
            return False, str(value["error"])
        return "tokens" in sample.meta
