"""What every trainer profile shares: the encoded row, the rejected row, the profile base class.

A profile turns a :class:`~sftforge.sample.Sample` into the ``input_ids`` / ``labels`` /
``attention_mask`` that one training framework would build from the same conversation, with that
framework's own segmenting, BOS/EOS and masking rules (each subclass says which version it follows).
Labels are unshifted, ``-100`` where no loss is taken, exactly as the frameworks hand them to the
model. A sample the framework would drop (bad role order, nothing left to train) comes back as a
:class:`Rejected` with the reason, never as a silently missing row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ...errors import MissingDependency, TokenizeError
from ...sample import Sample

__all__ = [
    "IGNORE_INDEX",
    "Encoded",
    "Profile",
    "Rejected",
    "encode_texts",
    "load_tokenizer",
]

IGNORE_INDEX = -100


@dataclass(slots=True)
class Encoded:
    """One tokenized training row."""

    input_ids: list[int]
    labels: list[int]
    attention_mask: list[int]
    sample_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.sample_id,
            "input_ids": self.input_ids,
            "labels": self.labels,
            "attention_mask": self.attention_mask,
        }

    @property
    def trained_tokens(self) -> int:
        return sum(1 for t in self.labels if t != IGNORE_INDEX)


@dataclass(slots=True)
class Rejected:
    """A sample the framework would not turn into a row, and why."""

    sample_id: str
    reason: str
    profile: str = ""


@dataclass
class Profile:
    """Base class: subclasses implement :meth:`encode_batch` (batched for speed) or :meth:`encode`.

    ``template`` is a template name in the framework's own terms (LLaMA-Factory's ``qwen``,
    ``llama3``...). ``max_length`` is the framework's cutoff (``cutoff_len``, ``max_length``...);
    ``None`` means no truncation. ``options`` holds the framework's own switches by their names.
    """

    name: ClassVar[str] = ""
    tokenizer: Any
    template: str | None = None
    max_length: int | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def encode(self, sample: Sample) -> Encoded:
        """Encode one sample; raises :class:`TokenizeError` when the framework would drop it."""
        (out,) = self.encode_batch([sample])
        if isinstance(out, Rejected):
            raise TokenizeError(out.reason, sample_id=out.sample_id)
        return out

    def encode_batch(self, samples: Sequence[Sample]) -> list[Encoded | Rejected]:
        raise NotImplementedError

    def reject(self, sample: Sample, reason: str) -> Rejected:
        return Rejected(sample.id, reason, self.name)


def load_tokenizer(path: str) -> Any:
    """A ``transformers`` tokenizer from a local folder (never the hub)."""
    try:
        from transformers import AutoTokenizer
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise MissingDependency("transformers", "chat", "Loading a tokenizer") from exc
    try:
        return AutoTokenizer.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise TokenizeError(
            f"cannot load a tokenizer from '{path}': {exc}",
            hint="point --tokenizer at a folder with tokenizer.json or tokenizer.model",
        ) from exc


def encode_texts(tokenizer: Any, texts: Iterable[str]) -> list[list[int]]:
    """Token ids of many strings in one batched call, without special tokens added.

    Equal to ``tokenizer.encode(text, add_special_tokens=False)`` for each text, which is what the
    frameworks call per segment. A fast tokenizer with no truncation/padding configured goes
    straight to its Rust backend (``encode_batch_fast``: no offsets, all cores), which is what
    transformers itself calls underneath; anything else goes through ``tokenizer(...)``.
    """
    batch = list(texts)
    if not batch:
        return []
    backend: Any = getattr(tokenizer, "_tokenizer", None)
    direct = (
        getattr(tokenizer, "is_fast", False)
        and not getattr(tokenizer, "split_special_tokens", False)
        and backend is not None
        and backend.truncation is None
        and backend.padding is None
    )
    if direct:
        fast = getattr(backend, "encode_batch_fast", backend.encode_batch)
        return [e.ids for e in fast(batch, add_special_tokens=False)]
    out = tokenizer(
        batch,
        add_special_tokens=False,
        return_attention_mask=False,
        return_token_type_ids=False,
    )
    return [list(ids) for ids in out["input_ids"]]
