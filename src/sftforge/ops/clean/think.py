"""``extract_think``: move ``<think>...</think>`` blocks into ``Message.reasoning`` or remove them.

Handles one or several blocks anywhere in the answer, a block whose opening tag was lost
(``reasoning...</think>answer``, as some exports write it) and, with ``unclosed="reasoning"``,
an opening tag that is never closed (everything after it is reasoning). Empty blocks (the
``<think>\\n\\n</think>`` of non-thinking mode) are removed and leave ``reasoning`` as it was.
With ``mode="move"`` the extracted text is appended to any existing ``reasoning``. Tag names
are configurable (``tags: [think, thinking, reasoning]``). Only assistant turns are targeted
by default.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Literal

from ...sample import Message, Sample
from ..base import Mapper, Targets, register_op
from ..text import target_messages

__all__ = ["ExtractThink", "split_think"]


@functools.lru_cache(maxsize=32)
def _tag_res(tags: tuple[str, ...]) -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    alt = "|".join(re.escape(t) for t in tags)
    block = re.compile(rf"<({alt})>(.*?)</\1\s*>", re.DOTALL | re.IGNORECASE)
    lone_close = re.compile(rf"^(.*?)</(?:{alt})\s*>", re.DOTALL | re.IGNORECASE)
    lone_open = re.compile(rf"<(?:{alt})>(.*)\Z", re.DOTALL | re.IGNORECASE)
    return block, lone_close, lone_open


def split_think(
    text: str, tags: list[str], *, unclosed: Literal["keep", "reasoning"] = "keep"
) -> tuple[str, list[str]]:
    """``(answer, [reasoning blocks])`` for one message text."""
    block, lone_close, lone_open = _tag_res(tuple(tags))
    found: list[str] = []

    def take(m: re.Match[str]) -> str:
        found.append(m.group(2).strip())
        return ""

    rest = block.sub(take, text)
    m = lone_close.match(rest)
    if m:
        found.insert(0, m.group(1).strip())
        rest = rest[m.end() :]
    if unclosed == "reasoning":
        m2 = lone_open.search(rest)
        if m2:
            found.append(m2.group(1).strip())
            rest = rest[: m2.start()]
    return rest.strip(), [f for f in found if f]


@dataclass(kw_only=True)
class ExtractThink(Mapper):
    """Move ``<think>`` blocks into ``reasoning`` (``mode: move``) or drop them (``remove``)."""

    targets: Targets = "assistant"
    mode: Literal["move", "remove"] = "move"
    tags: list[str] = field(default_factory=lambda: ["think"])
    unclosed: Literal["keep", "reasoning"] = "keep"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.mode not in ("move", "remove"):
            raise ValueError(f"mode must be 'move' or 'remove', not {self.mode!r}")
        if self.unclosed not in ("keep", "reasoning"):
            raise ValueError(f"unclosed must be 'keep' or 'reasoning', not {self.unclosed!r}")
        self._needles = tuple(f"</{t.lower()}" for t in self.tags) + tuple(
            f"<{t.lower()}>" for t in self.tags
        )

    def _edit(self, msg: Message) -> None:
        low = msg.content.lower()
        if not any(n in low for n in self._needles):
            return
        answer, blocks = split_think(msg.content, self.tags, unclosed=self.unclosed)
        if answer == msg.content:
            return
        msg.content = answer
        self.counters.extra[f"{self.name}.changed"] += 1
        if self.mode == "move" and blocks:
            joined = "\n\n".join(blocks)
            msg.reasoning = f"{msg.reasoning}\n\n{joined}" if msg.reasoning else joined

    def map(self, sample: Sample) -> Sample:
        for msg in target_messages(sample, self.targets):
            if msg.content:
                self._edit(msg)
        return sample


register_op("extract_think")(ExtractThink)
