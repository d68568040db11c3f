"""The ``axolotl`` profile: ids and labels as axolotl's ``chat_template`` strategy builds them.

What is reproduced (read from axolotl ``src/axolotl/prompt_strategies/chat_template.py``,
``ChatTemplateStrategy._tokenize_single_prompt``/``find_turn``/``find_first_eos_token`` and
``StrategyLoader`` defaults, the version without end-of-turn-token lists; not run against axolotl,
which is not installed here - tested on hand-computed ids):

* the conversation is tokenized once with the chat template (``apply_chat_template``);
* each turn to train (``training`` field = our ``Message.train``, else ``train_on_inputs`` or its
  role in ``roles_to_train``, default ``["assistant"]``) is located by rendering the conversation up
  to that turn twice, once with the content replaced by ``[[dummy_message]]``, and taking the first
  and last token where the two differ; those tokens are trained;
* ``train_on_eos`` (default ``turn``): the first EOS at or after a turn's end, if within 3 tokens,
  is trained for trained turns (``all``: for every turn; ``last``: only the last one found),
  including axolotl's quirks when a turn cannot be located (index -1 wraps to the last token);
* rows longer than ``max_length`` (axolotl's ``sequence_len``) are dropped (rejected here).

Messages carry ``role`` and ``content``, plus ``tool_calls``/``reasoning_content`` when the
template uses them (axolotl keeps only the message fields the template reads).

Every render is bounded (``hf_bounds``: transformers' ``apply_chat_template`` with the template
compiled in sftforge's bounded sandbox; same ids): a sample that drives the template past a bound,
or makes it raise, is rejected with the reason (axolotl would hang or crash on it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ...errors import TemplateError, TokenizeError
from ...sample import Sample
from ..jinja_bounds import DEFAULT_BOUNDS, Bounds
from .base import IGNORE_INDEX, Encoded, Profile, Rejected
from .hf_bounds import bounded_apply
from .trl import to_trl_messages

__all__ = ["AxolotlProfile"]

_DUMMY = "[[dummy_message]]"


@dataclass
class AxolotlProfile(Profile):
    """axolotl ``type: chat_template`` SFT encoding. Options (axolotl's names):
    ``roles_to_train`` (default ``["assistant"]``), ``train_on_eos`` (``turn`` | ``all`` |
    ``last`` | ``none``), ``train_on_inputs`` (default False), ``chat_template`` (a Jinja string;
    default the tokenizer's own). ``max_length`` is ``sequence_len``."""

    name = "axolotl"
    bounds: Bounds = DEFAULT_BOUNDS  # per render (time, size, loop steps, call depth)

    def __post_init__(self) -> None:
        known = {"roles_to_train", "train_on_eos", "train_on_inputs", "chat_template"}
        unknown = set(self.options) - known
        if unknown:
            raise TokenizeError(f"unknown axolotl option(s): {', '.join(sorted(unknown))}")
        self.roles = list(self.options.get("roles_to_train", ["assistant"]))
        self.train_on_eos = self.options.get("train_on_eos", "turn")
        self.train_on_inputs = bool(self.options.get("train_on_inputs", False))
        tpl = self.options.get("chat_template") or getattr(self.tokenizer, "chat_template", None)
        if not isinstance(tpl, str):
            raise TemplateError("the tokenizer has no chat template", hint="pass chat_template")
        self.chat_template = tpl
        self.fields = [f for f in ("tool_calls", "reasoning_content") if f in tpl]

    def _turns(self, sample: Sample) -> list[dict[str, Any]]:
        turns = []
        for m, d in zip(sample.messages, to_trl_messages(sample), strict=True):
            turn = {"role": d["role"], "content": d["content"]}
            turn |= {f: d[f] for f in self.fields if f in d}
            turn["training"] = m.train
            turns.append(turn)
        return turns

    def _build(self, turns: list[dict[str, Any]]) -> list[int]:
        convo = [{k: v for k, v in t.items() if k != "training"} for t in turns]
        out = bounded_apply(
            self.tokenizer,
            convo,
            chat_template=self.chat_template,
            bounds=self.bounds,
            name=self.name,
            tokenize=True,
            return_dict=True,
        )
        return list(out["input_ids"])

    def _find_turn(self, turns: list[dict[str, Any]], idx: int) -> tuple[int, int]:
        name = str(getattr(self.tokenizer, "name_or_path", "")).lower()
        if idx == 0 and turns[0]["role"] == "system" and ("mistral" in name or "gemma" in name):
            return -1, -1
        dummy = self._build([*turns[:idx], {"role": turns[idx]["role"], "content": _DUMMY}])
        full = self._build(turns[: idx + 1])
        if not full or not dummy:
            return -1, -1
        n = min(len(dummy), len(full))
        start = next((i for i in range(n) if dummy[i] != full[i]), None)
        if start is None:
            return -1, -1
        end = next(
            (
                len(full) - i
                for i in range(n)
                if dummy[len(dummy) - 1 - i] != full[len(full) - 1 - i]
            ),
            None,
        )
        if end is None or end <= start:
            return -1, -1
        return start, end

    def _first_eos(self, ids: list[int], start: int) -> int:
        eos = self.tokenizer.eos_token_id
        return next((i for i in range(start, len(ids)) if ids[i] == eos), -1)

    def encode_batch(self, samples: Sequence[Sample]) -> list[Encoded | Rejected]:
        return [self._encode_one(s) for s in samples]

    def _encode_one(self, sample: Sample) -> Encoded | Rejected:
        try:
            return self._encode_turns(sample)
        except TemplateError as exc:  # the template failed on this sample (a bound, or raised)
            return self.reject(sample, str(exc))

    def _encode_turns(self, sample: Sample) -> Encoded | Rejected:
        turns = self._turns(sample)
        ids = self._build(turns)
        labels = [IGNORE_INDEX] * len(ids)
        last_eos = -1
        for idx, turn in enumerate(turns):
            train = turn["training"]
            if train is None:
                train = self.train_on_inputs or turn["role"] in self.roles
            start, end = self._find_turn(turns, idx)
            if train and start != -1 and end != -1:
                labels[start:end] = ids[start:end]
            eos_idx = self._first_eos(ids, end)
            if abs(eos_idx - end) <= 3:
                last_eos = eos_idx
                if self.train_on_eos == "all" or (self.train_on_eos == "turn" and train):
                    labels[eos_idx] = ids[eos_idx]
        if self.train_on_eos == "last" and last_eos != -1:
            labels[last_eos] = ids[last_eos]
        if self.max_length is not None and len(ids) > self.max_length:
            return self.reject(
                sample, f"{len(ids)} tokens > sequence_len {self.max_length} (dropped)"
            )
        return Encoded(ids, labels, [1] * len(ids), sample.id)
