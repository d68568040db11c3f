"""LLM-driven dataset construction: respond, judge, judge_pair, self_instruct, evol_instruct,
backtranslate, doc_qa, paraphrase and translate.

Each generator is a dataclass of options with an async ``process`` per item; ``generate`` runs
one over a list of items with an ``LLMConfig`` (cache, limits, budget, failed items, rejects).
"""

from __future__ import annotations

from . import backtranslate, doc_qa, evol_instruct, judge, paraphrase, respond, self_instruct
from . import ops as ops  # registers the pipeline steps
from .backtranslate import BackTranslate
from .base import GENERATORS, Dropped, Generator, build_generator, llm_meta, register_generator
from .chunk import Chunk, chunk_document, questions_for, split_sections
from .doc_qa import DocQA
from .docparse import html_to_text, load_documents, parse_file
from .evol_instruct import METHODS, EvolInstruct, elimination_reason
from .judge import Judge, JudgePair, group_by_prompt
from .paraphrase import Paraphrase, Translate
from .prompts import Prompts, detect_lang
from .respond import Respond
from .rouge import RougeIndex, rouge_l, rouge_tokens
from .run import GenerationResult, generate, generate_async
from .self_instruct import SelfInstruct, heuristic_reason, parse_numbered

__all__ = [
    "GENERATORS",
    "METHODS",
    "BackTranslate",
    "Chunk",
    "DocQA",
    "Dropped",
    "EvolInstruct",
    "GenerationResult",
    "Generator",
    "Judge",
    "JudgePair",
    "Paraphrase",
    "Prompts",
    "Respond",
    "RougeIndex",
    "SelfInstruct",
    "Translate",
    "backtranslate",
    "build_generator",
    "chunk_document",
    "detect_lang",
    "doc_qa",
    "elimination_reason",
    "evol_instruct",
    "generate",
    "generate_async",
    "group_by_prompt",
    "heuristic_reason",
    "html_to_text",
    "judge",
    "llm_meta",
    "load_documents",
    "paraphrase",
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
