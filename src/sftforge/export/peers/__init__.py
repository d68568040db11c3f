"""Peer check scripts: each runs with a trainer's own python (its venv), imports only the standard
library and that trainer, loads an export folder as the exported command does, and writes the
trainer's tokenized rows (and, with ``--step``, one training step's result). Not imported by
sftforge: ``export --check`` and the hand-over bench run them as files."""
