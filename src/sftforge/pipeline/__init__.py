"""Recipes and their execution: ``run_recipe``, ``load_recipe``, the executor seam."""

from __future__ import annotations

from .executor import LocalExecutor
from .plan import Executor, Job, JobResult
from .recipe import InputSpec, OutputSpec, Recipe, StepSpec, load_recipe
from .run import RunResult, run_recipe

__all__ = [
    "Executor",
    "InputSpec",
    "Job",
    "JobResult",
    "LocalExecutor",
    "OutputSpec",
    "Recipe",
    "RunResult",
    "StepSpec",
    "load_recipe",
    "run_recipe",
]
