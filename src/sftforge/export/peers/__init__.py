"""Peer check scripts: one standalone script per trainer, run with that trainer's own Python.

``TRAINER_PYTHON peers/<trainer>.py EXPORT_DIR OUT_JSONL [--step]`` loads an export folder the way
its command does, writes the rows the trainer's own data preparation keeps and, with ``--step``,
runs one optimizer step on CPU. The scripts import only the standard library and the trainer's
packages, never sftforge (which need not be installed beside the trainer).
"""
