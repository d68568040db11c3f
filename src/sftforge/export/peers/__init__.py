"""Standalone trainer checks: ``<framework>.py`` runs with the trainer's own Python (standard
library and the trainer's packages only, never sftforge) on an export folder; see
``sftforge.export.check`` for the protocol."""
