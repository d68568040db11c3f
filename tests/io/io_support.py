"""Helpers for the io and cli tests: the ``qa`` test format, fixture paths, expected samples."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sftforge.errors import FormatError
from sftforge.formats.base import Capabilities, Format, LossLog
from sftforge.io import RawRecord, read_records
from sftforge.sample import Message, Sample

FIXTURES = Path(__file__).parent.parent / "fixtures" / "io"


class QAFormat(Format):
    """``{"q": question, "a": answer, "sys": optional system}``: single-turn, for io tests only."""

    name = "qa"
    capabilities = Capabilities(system=True, multi_turn=False)

    def detect(self, value: Any) -> float:
        return 1.0 if isinstance(value, dict) and "q" in value and "a" in value else 0.0

    def parse(self, value: Any) -> Sample:
        if not isinstance(value, dict):
            raise FormatError(f"a qa record must be an object, not {type(value).__name__}.")
        for key in ("q", "a"):
            if key not in value:
                raise FormatError(f"missing required field '{key}'.", field=key)
            if not isinstance(value[key], str):
                raise FormatError(
                    f"'{key}' must be a string, not {type(value[key]).__name__}.", field=key
                )
        msgs = [Message("user", value["q"]), Message("assistant", value["a"])]
        if value.get("sys"):
            msgs.insert(0, Message("system", value["sys"]))
        return Sample(msgs)

    def dump(self, sample: Sample, loss: LossLog) -> Any:
        users = sample.turns("user")
        if len(users) > 1:
            loss.lose("multi_turn", sample, self.name)
        out = {"q": users[-1].content, "a": sample.turns("assistant")[-1].content}
        if sample.system:
            out["sys"] = sample.system
        return out


def qa_samples() -> list[Sample]:
    """The three records every good fixture holds, as Samples."""
    return [
        Sample([Message("user", "你好，世界"), Message("assistant", "Hello, world")]),
        Sample([Message("user", "What is 2+2?"), Message("assistant", "4")]),
        Sample(
            [
                Message("system", "translator"),
                Message("user", "翻译：早上好"),
                Message("assistant", "Good morning"),
            ]
        ),
    ]


def fixture(name: str) -> str:
    return str(FIXTURES / name)


def records(path: str, **options: Any) -> list[RawRecord]:
    """All raw records of ``path`` (the source closed afterwards)."""
    with read_records(path, **options) as source:
        return list(source)
