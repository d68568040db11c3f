"""doc_qa: questions and grounded answers from documents, one work item per chunk.

Documents are chunked (``chunk.py``); each chunk gets questions in proportion to its length
(``per_tokens``, ``min_questions``, ``max_questions``), then each question is answered from the
chunk alone. An answer of ``NOT_IN_CONTEXT`` drops that question (rejects file). With
``reasoning: true`` the model is asked to think first; its thinking goes to the turn's
``reasoning``. Every sample carries ``meta["doc_id"]`` (split by it to keep a document's
questions in one split), ``chunk_id``, ``heading``, ``title`` and ``source``.

If any answer of a chunk fails, the whole chunk fails (and is retried whole: the answers that
did come back are cached), so a chunk never yields half of its questions twice.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from ..errors import BudgetExceeded, LLMError
from ..llm.client import DryRunStop, LLMClient
from ..sample import Document, Message, Sample
from .base import Generator, llm_meta, register_generator
from .chunk import chunk_document, questions_for

__all__ = ["DocQA"]

_QUESTIONS = {
    "type": "object",
    "required": ["questions"],
    "properties": {
        "questions": {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 2}}
    },
}
NOT_IN_CONTEXT = "NOT_IN_CONTEXT"


@register_generator
@dataclass(kw_only=True)
class DocQA(Generator):
    task = "doc_qa"
    input_kind = "chunk"
    calls_per_item = 4.0

    max_tokens: int = 800
    min_tokens: int = 50
    overlap: int = 100
    per_tokens: int = 150
    min_questions: int = 1
    max_questions: int = 8
    reasoning: bool = False

    def prepare(self, items: list[Any]) -> list[Any]:
        chunks: list[Any] = []
        for it in items:
            if isinstance(it, Document):
                opts = {"max_tokens": self.max_tokens, "min_tokens": self.min_tokens}
                chunks += [c.to_dict() for c in chunk_document(it, **opts, overlap=self.overlap)]
            else:  # chunks read back from a failed file
                chunks.append(it)
        return chunks

    async def process(self, client: LLMClient, item: dict[str, Any]) -> list[Sample]:
        text, title = item["text"], item.get("title") or item.get("heading") or ""
        lang = self.lang_for(text)
        want = questions_for(
            int(item.get("tokens") or 0),
            per_tokens=self.per_tokens,
            minimum=self.min_questions,
            maximum=self.max_questions,
        )
        ask = self.render("doc_qa.questions", lang, title=title, chunk=text, count=want)
        value, _, _ = await self.ask_json(client, ask, _QUESTIONS, lang)
        questions: list[str] = []
        for q in value["questions"]:
            q = q.strip()
            if q and q not in questions:
                questions.append(q)
        questions = questions[:want]
        rule = self.render("doc_qa.reasoning_rule", lang) if self.reasoning else ""
        answers = await asyncio.gather(
            *(self._answer(client, item, title, q, rule, lang) for q in questions),
            return_exceptions=True,
        )
        errors = [a for a in answers if isinstance(a, BaseException)]
        for err in errors:  # a budget stop or a dry run is not this chunk's failure
            if isinstance(err, (BudgetExceeded, DryRunStop)) or not isinstance(err, LLMError):
                raise err
        if errors:
            err = errors[0]
            assert isinstance(err, LLMError)
            raise LLMError(f"{len(errors)} of {len(questions)} answers failed: {err.message}")
        out: list[Sample] = []
        for s in answers:
            assert isinstance(s, Sample)
            if s.messages[-1].content.strip().strip(".。") == NOT_IN_CONTEXT:
                self.drop(s, "the chunk does not answer the question")
            else:
                out.append(s)
        return out

    async def _answer(
        self, client: LLMClient, item: dict[str, Any], title: str, q: str, rule: str, lang: str
    ) -> Sample:
        prompt = self.render(
            "doc_qa.answer", lang, title=title, chunk=item["text"], question=q, reasoning_rule=rule
        )
        msgs, comp = await self.ask(client, prompt)
        meta = llm_meta(
            self.task,
            client,
            msgs,
            comp,
            question_from="llm",
            doc_id=item["doc_id"],
            chunk_id=item["chunk_id"],
            chunk_index=item.get("index"),
            heading=item.get("heading", ""),
            title=title,
            source=item.get("source", ""),
        )
        return Sample(
            messages=[
                Message("user", q),
                Message("assistant", comp.text, reasoning=comp.reasoning),
            ],
            meta=meta,
        )
