"""Registers the LLM generators that work on samples as operators (respond, judge, judge_pair,
evol_instruct, paraphrase, translate): they live in ``sftforge.generate.ops``; this module only
makes the pipeline's operator discovery (every module under ``sftforge.ops``) find them."""

from __future__ import annotations

from ..generate.ops import OP_TASKS, GenerateOp

__all__ = ["OP_TASKS", "GenerateOp"]
