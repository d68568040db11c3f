"""LLM-driven dataset construction: respond, judge, judge_pair, self_instruct, evol_instruct,
backtranslate, doc_qa, paraphrase and translate.

Each generator is a dataclass of options with an async ``process`` per item; ``generate`` runs
one over a list of items with an ``LLMConfig`` (cache, limits, budget, failed items, rejects).
"""

from __future__ import annotations

from . import doc_qa, judge, respond, self_instruct
from .base import GENERATORS, Dropped, Generator, build_generator, llm_meta, register_generator
from .chunk import Chunk, chunk_document, questions_for, split_sections
from .doc_qa import DocQA
from .docparse import html_to_text, load_documents, parse_file
from .judge import Judge, JudgePair, group_by_prompt
from .prompts import Prompts, detect_lang
from .respond import Respond
from .rouge import RougeIndex, rouge_l, rouge_tokens
from .run import GenerationResult, generate, generate_async
from .self_instruct import SelfInstruct, heuristic_reason, parse_numbered

__all__ = [
    "GENERATORS",
    "Chunk",
    "DocQA",
    "Dropped",
    "GenerationResult",
    "Generator",
    "Judge",
    "JudgePair",
    "Prompts",
    "Respond",
    "RougeIndex",
    "SelfInstruct",
    "build_generator",
    "chunk_document",
    "detect_lang",
    "doc_qa",
    "generate",
    "generate_async",
    "group_by_prompt",
    "heuristic_reason",
    "html_to_text",
    "judge",
    "llm_meta",
    "load_documents",
    "parse_file",
    "parse_numbered",
    "questions_for",
    "register_generator",
    "respond",
    "rouge_l",
    "rouge_tokens",
    "self_instruct",
    "split_sections",
]
