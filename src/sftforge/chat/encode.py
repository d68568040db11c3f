"""Tokenizers: loading one from a local folder, encoding with character offsets, and labels.

``load_tokenizer`` reads a folder holding ``tokenizer.json`` and/or a SentencePiece
``tokenizer.model`` plus ``tokenizer_config.json`` through ``transformers.AutoTokenizer``, offline
and without remote code; a model id instead of a folder is looked up in the Hugging Face and
ModelScope caches (or downloaded) by ``chat.tokenizer_source.resolve_tokenizer``. Text is always encoded with ``add_special_tokens=False``, as
``apply_chat_template`` does: the template writes BOS/EOS itself, so the tokenizer can never add a
second BOS.

Labels come from character spans: a token is trained when its character range overlaps a trained
span. For fast (Rust) tokenizers the ranges are the offsets the tokenizer reports; the batched
path asks the Rust ``Encoding`` for the token holding a span's first and last character
(``char_to_token``) instead of copying every offset into Python, which is the same rule at a
fraction of the cost. Python-only
tokenizers report no offsets; for them ``encode_with_offsets`` returns ``None`` and
``labels_by_prefix`` finds each span boundary by encoding the text before it: when that encoding
is a prefix of the whole encoding the boundary falls exactly between two tokens (this is checked,
not assumed); when it is not, the token straddling the boundary overlaps the span and is trained,
which is the same overlap rule.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from ..errors import InputError, MissingDependency
from .tokenizer_source import resolve_tokenizer

__all__ = [
    "IGNORE_INDEX",
    "encode_batch",
    "encode_with_offsets",
    "labels_by_prefix",
    "labels_from_encoding",
    "labels_from_spans",
    "load_tokenizer",
    "rust_backend",
    "special_texts",
    "special_tokens_of",
    "token_range",
]

IGNORE_INDEX = -100
Spans = Sequence[tuple[int, int]]
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "tokenizer_config.json", "vocab.json")


def load_tokenizer(path: str | Path) -> Any:
    """A transformers tokenizer from a local folder or a model id (``Qwen/Qwen2.5-1.5B-Instruct``,
    see ``chat.tokenizer_source``); no remote code."""
    try:
        import transformers  # noqa: F401 - lazy: AutoTokenizer is only imported when needed
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise MissingDependency("transformers", "chat", "Tokenization") from exc
    folder = resolve_tokenizer(path)  # a folder, or a model id found in a cache or downloaded
    if not folder.is_dir():
        raise InputError(
            f"tokenizer '{path}' is a file, not a folder.",
            field="tokenizer",
            hint="pass the folder that holds tokenizer.json or tokenizer.model",
        )
    if not any((folder / name).is_file() for name in _TOKENIZER_FILES):
        raise InputError(
            f"'{path}' holds no tokenizer files ({', '.join(_TOKENIZER_FILES)}).",
            field="tokenizer",
            hint="pass the folder a model was saved to with save_pretrained",
        )
    try:
        if _generic_fast(folder):
            return _load_generic_fast(folder)
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    except Exception as exc:  # transformers raises many kinds; name the folder and the cause
        raise InputError(
            f"cannot load the tokenizer in '{path}': {type(exc).__name__}: {exc}",
            field="tokenizer",
        ) from exc


# tokenizer_config classes AutoTokenizer resolves to the generic Rust-backed tokenizer whatever the
# model (transformers 5: PreTrainedTokenizerFast is TokenizersBackend)
_GENERIC_CLASSES = frozenset({"PreTrainedTokenizerFast", "TokenizersBackend"})
# model types whose tokenizer AutoTokenizer may load through mistral-common instead
_MISTRAL_TYPES = ("mistral", "mixtral", "ministral", "pixtral", "voxtral")


def _generic_fast(folder: Path) -> bool:
    """Whether AutoTokenizer would load ``folder`` as the generic Rust-backed tokenizer: a
    tokenizer.json, a generic ``tokenizer_class``, no remote code, not a Mistral model.

    Why it matters: AutoTokenizer imports the model configuration code and with it torch (2-3 s
    and ~200 MB on this machine), which tokenizing never uses; the generic class loads without."""
    try:
        config = orjson.loads((folder / "tokenizer_config.json").read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return False
    if not isinstance(config, dict) or not (folder / "tokenizer.json").is_file():
        return False
    if config.get("tokenizer_class") not in _GENERIC_CLASSES or "auto_map" in config:
        return False
    if (folder / "tekken.json").exists() or (folder / "params.json").exists():
        return False
    try:
        model = orjson.loads((folder / "config.json").read_bytes())
    except OSError:
        return True  # a tokenizer-only folder
    except orjson.JSONDecodeError:
        return False
    kind = str(model.get("model_type") or "") if isinstance(model, dict) else ""
    return not kind.startswith(_MISTRAL_TYPES)


def _load_generic_fast(folder: Path) -> Any:
    from transformers.tokenization_utils_tokenizers import TokenizersBackend

    return TokenizersBackend.from_pretrained(str(folder), local_files_only=True)


def special_tokens_of(tokenizer: Any) -> dict[str, Any]:
    """The template variables transformers passes from the tokenizer (bos_token, eos_token...)."""
    return dict(getattr(tokenizer, "special_tokens_map", {}) or {})


def special_texts(tokenizer: Any) -> list[str]:
    """The texts of the tokenizer's special tokens (not plain added words such as ``<think>``),
    longest first."""
    toks = set(getattr(tokenizer, "all_special_tokens", []) or [])
    for tok in (getattr(tokenizer, "added_tokens_decoder", {}) or {}).values():
        if getattr(tok, "special", False):
            toks.add(str(tok.content if hasattr(tok, "content") else tok))
    return sorted((t for t in toks if t), key=len, reverse=True)


def rust_backend(tokenizer: Any) -> Any:
    """The tokenizer's Rust ``tokenizers.Tokenizer`` set up as its own ``__call__`` would use
    it (special tokens split or not), or None for a Python-only tokenizer."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        # what the tokenizer's own __call__ does before its batch call
        split = bool(getattr(tokenizer, "split_special_tokens", False))
        if backend.encode_special_tokens != split:
            backend.encode_special_tokens = split
    return backend


def encode_batch(tokenizer: Any, texts: Sequence[str]) -> list[tuple[list[int], Any]]:
    """Encode many texts in one call: ``(ids, encoding)`` per text, where ``encoding`` is the Rust
    ``tokenizers.Encoding`` (None for Python-only tokenizers)."""
    backend = rust_backend(tokenizer)
    if backend is None:
        return [(list(tokenizer.encode(t, add_special_tokens=False)), None) for t in texts]
    return [(e.ids, e) for e in backend.encode_batch(list(texts), add_special_tokens=False)]


def encode_with_offsets(
    tokenizer: Any, texts: Sequence[str]
) -> list[tuple[list[int], list[tuple[int, int]] | None]]:
    """Like ``encode_batch`` but with the offsets as Python lists (None when unavailable)."""
    return [
        (ids, enc.offsets if enc is not None else None)
        for ids, enc in encode_batch(tokenizer, texts)
    ]


def token_range(encoding: Any, a: int, b: int) -> tuple[int, int]:
    """Tokens ``[i, j)`` overlapping characters ``[a, b)``; ``(0, 0)`` when none does."""
    first = encoding.char_to_token(a) if a < b else None
    if first is None:  # a character no token covers: look further in
        first = next(
            (t for c in range(a + 1, b) if (t := encoding.char_to_token(c)) is not None), None
        )
        if first is None:
            return 0, 0
    last = encoding.char_to_token(b - 1)
    if last is None:
        last = next(
            t for c in range(b - 2, a - 1, -1) if (t := encoding.char_to_token(c)) is not None
        )
    return first, last + 1


def labels_from_encoding(ids: Sequence[int], encoding: Any, spans: Spans) -> tuple[list[int], int]:
    """Unshifted labels and the number of trained tokens, from a Rust ``Encoding``."""
    labels = [IGNORE_INDEX] * len(ids)
    trained = 0
    for a, b in spans:
        i, j = token_range(encoding, a, b)
        labels[i:j] = ids[i:j]
        trained += j - i
    return labels, trained


def labels_from_spans(
    ids: Sequence[int], offsets: Sequence[tuple[int, int]], spans: Spans
) -> list[int]:
    """Unshifted labels: ``ids`` where a token's characters overlap a span, else -100."""
    labels = [IGNORE_INDEX] * len(ids)
    if not spans:
        return labels
    starts = [o[0] for o in offsets]
    ends = [o[1] for o in offsets]
    for a, b in spans:
        i = bisect_right(ends, a)  # first token ending after a
        j = bisect_left(starts, b)  # first token starting at or after b
        labels[i:j] = ids[i:j]
    return labels


def labels_by_prefix(tokenizer: Any, text: str, ids: Sequence[int], spans: Spans) -> list[int]:
    """Labels for tokenizers without offsets: boundaries found by encoding each text prefix."""
    labels = [IGNORE_INDEX] * len(ids)
    for a, b in spans:
        i = _boundary(tokenizer, text, ids, a, is_end=False)
        j = _boundary(tokenizer, text, ids, b, is_end=True)
        labels[i:j] = ids[i:j]
    return labels


def _boundary(tokenizer: Any, text: str, ids: Sequence[int], pos: int, *, is_end: bool) -> int:
    if pos <= 0:
        return 0
    if pos >= len(text):
        return len(ids)
    head = tokenizer.encode(text[:pos], add_special_tokens=False)
    k = 0
    limit = min(len(head), len(ids))
    while k < limit and head[k] == ids[k]:
        k += 1
    if k == len(head):
        return k  # exact: the prefix encodes to the first k tokens of the whole
    # token k straddles the boundary: it overlaps the span on either side, so it is trained
    return k + 1 if is_end else k
