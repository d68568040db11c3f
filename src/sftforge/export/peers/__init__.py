"""Standalone trainer checks, one script per trainer (``<framework>.py``), run with the trainer's
own Python by ``sftforge export --check`` and the hand-over bench: they import only the standard
library and the trainer's packages, never sftforge. ``litgpt_convert.py`` is not a check: the
LitGPT export copies it into its folder, where ``finetune_lora.sh`` runs it once.
"""
