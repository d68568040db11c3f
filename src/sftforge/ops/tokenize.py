"""The recipe step ``tokenize`` lives with the chat code (``sftforge.chat.step``); importing it
here puts it in the registry that ``load_ops`` fills from this package."""

from __future__ import annotations

from ..chat.step import TokenizeStep

__all__ = ["TokenizeStep"]
