"""Plain text documents: ``{"text": ...}`` records or bare strings (txt lines) -> ``Document``.

For continued pre-training and Q&A generation. The text key is configurable (LLaMA-Factory's
``columns.prompt`` for pre-training sets); other keys of a record (url, timestamp...) are kept in
``meta["fields"]`` and written back, so documents round-trip unchanged.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import ConversionError
from ..sample import Document, Sample
from ._common import FIELDS, fail, missing, not_a_string, type_name
from .base import Capabilities, Format, LossLog, register_format

__all__ = ["FIELDS", "TextFormat"]

_AUTO_DOC_ID = re.compile(r"d[0-9a-f]{16}")


@register_format
class TextFormat(Format):
    name = "text"
    kind = "document"
    capabilities = Capabilities(system=False, multi_turn=False, ids=True)

    def __init__(self, key: str = "text") -> None:
        self.key = key

    def detect(self, value: Any) -> float:
        if type(value) is str:
            return 0.6
        if type(value) is dict and type(value.get(self.key)) is str:
            return 0.6
        return 0.0

    def parse(self, value: Any) -> Document:  # type: ignore[override]
        if type(value) is str:
            text, rec = value, None
        elif type(value) is dict:
            rec = value
            raw = rec.get(self.key)
            if raw is None:
                missing(self.key, rec, self.name)
            if type(raw) is not str:
                not_a_string(self.key, raw)
            text = raw
        else:
            fail(
                f'a text record must be a string or {{"{self.key}": ...}}, not {type_name(value)}.'
            )
        if not text.strip():
            fail(f"empty text: '{self.key}' is empty.", field=self.key, hint="drop the record")
        if rec is None or len(rec) == 1:
            return Document(text)
        doc_id = rec.get("id")
        extra = {k: v for k, v in rec.items() if k != self.key and k != "id" and v is not None}
        meta = {FIELDS: extra} if extra else {}
        return Document(text, doc_id if type(doc_id) is str else "", meta)

    def dump(self, doc: Document | Sample, loss: LossLog) -> Any:
        if not isinstance(doc, Document):
            raise ConversionError(
                "format 'text' holds plain documents, not conversations.",
                sample_id=doc.id,
                hint="write conversations to a chat format (openai, sharegpt, alpaca...)",
            )
        out: dict[str, Any] = {}
        if _AUTO_DOC_ID.fullmatch(doc.id) is None:
            out["id"] = doc.id
        out[self.key] = doc.text
        fields = doc.meta.get(FIELDS)
        if type(fields) is dict:
            out.update(fields)
        return out
