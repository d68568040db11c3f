"""LitGPT's ``Tokenizer`` (``litgpt/tokenizer.py``, 0.5.13) for a tokenizer folder: the
``tokenizers`` backend read from ``tokenizer.json`` (its post-processor's special tokens included),
BOS/EOS ids from ``tokenizer_config.json`` then ``generation_config.json``, whether the model uses a
BOS (``check_if_bos_token_used``), and ``encode``'s BOS/EOS rules and cut, applied to the backend's
ids so that many texts are tokenized in one batched call.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ...errors import TokenizeError

__all__ = ["LitgptTokenizer", "tokenizer_folder"]


class LitgptTokenizer:
    """``litgpt.tokenizer.Tokenizer`` (the ``tokenizers`` backend) for a tokenizer folder."""

    def __init__(self, folder: Path) -> None:
        from tokenizers import Tokenizer

        vocab = folder / "tokenizer.json"
        if not vocab.is_file():
            raise TokenizeError(
                f"{folder} has no tokenizer.json: LitGPT would use its SentencePiece model, which "
                "the litgpt profile does not reproduce.",
                field="tokenizer",
            )
        self.processor = Tokenizer.from_file(str(vocab))
        config = _json(folder / "tokenizer_config.json")
        generation = _json(folder / "generation_config.json")
        self.bos_id = self._token_id(config.get("bos_token"))
        self.eos_id = self._token_id(config.get("eos_token"))
        if self.bos_id is None:
            self.bos_id = generation.get("bos_token_id")
        if self.eos_id is None:
            self.eos_id = generation.get("eos_token_id")
        self.use_bos = _uses_bos(folder, config)

    def _token_id(self, token: Any) -> int | None:
        if isinstance(token, dict):
            token = token.get("content")
        if token is None:
            return None
        found = self.processor.token_to_id(token)
        if found is None:  # LitGPT raises here: the checkpoint cannot be loaded at all
            raise TokenizeError(
                f"token {token!r} of tokenizer_config.json is not in the vocabulary"
            )
        return int(found)

    def encode_many(self, texts: list[str]) -> list[list[int]]:
        return [list(e.ids) for e in self.processor.encode_batch(texts)] if texts else []

    def finish(
        self, tokens: list[int], *, bos: bool | None = None, eos: bool = False, max_length: int = -1
    ) -> list[int]:
        """``Tokenizer.encode``'s BOS/EOS rules and cut, on the backend's ids."""
        if bos or (bos is None and self.use_bos):
            if self.bos_id is None:
                raise TokenizeError("LitGPT: this tokenizer does not have a defined bos token.")
            if not tokens or tokens[0] != self.bos_id:
                tokens = [self.bos_id, *tokens]
        elif tokens and tokens[0] == self.bos_id:
            tokens = tokens[1:]
        if eos and (not tokens or tokens[-1] != self.eos_id):
            if self.eos_id is None:  # LitGPT fails on this row (a None id in the tensor)
                raise TokenizeError("LitGPT: this tokenizer does not have a defined eos token.")
            tokens = [*tokens, self.eos_id]
        elif tokens and tokens[-1] == self.eos_id:
            tokens = tokens[:-1]
        return tokens[:max_length] if max_length > 0 else tokens


def _json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _uses_bos(folder: Path, config: dict[str, Any]) -> bool:
    """``Tokenizer.check_if_bos_token_used``; LitGPT asks its checkpoint folder, whose name is the
    model's folder name in the export (``checkpoints/<model folder>``)."""
    if not (folder / "tokenizer_config.json").is_file():
        return False
    stem = re.sub(r"\.[^.]*$", "", folder.name)  # Path.stem
    if stem.startswith(("Meta-Llama-3", "Llama-3")):
        return True
    if stem.startswith("SmolLM2") and folder.name.endswith("Instruct"):
        return True
    if "add_bos_token" in config:
        return bool(config["add_bos_token"])
    return config.get("tokenizer_class") == "LlamaTokenizer"


def tokenizer_folder(tokenizer: Any) -> Path:
    """The local folder a ``transformers`` tokenizer was loaded from (LitGPT reads its files)."""
    name = getattr(tokenizer, "name_or_path", None)
    folder = Path(str(name)).expanduser() if name else None
    if folder is None or not folder.is_dir():
        raise TokenizeError(
            "the litgpt profile needs the tokenizer as a local folder (LitGPT reads "
            "tokenizer.json and tokenizer_config.json from its checkpoint folder).",
            field="tokenizer",
            hint="pass --tokenizer PATH/TO/MODEL_FOLDER",
        )
    return folder
