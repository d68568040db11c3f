"""Registers the LLM generators as operators (respond, judge, judge_pair, evol_instruct,
paraphrase, translate on samples; doc_qa, backtranslate, self_instruct from documents or seed
tasks): they live in ``sftforge.generate.ops``; this module only makes the pipeline's operator
discovery (every module under ``sftforge.ops``) find them."""

from __future__ import annotations

from ..generate.ops import OP_TASKS, SOURCE_TASKS, GenerateOp, SourceOp

__all__ = ["OP_TASKS", "SOURCE_TASKS", "GenerateOp", "SourceOp"]
