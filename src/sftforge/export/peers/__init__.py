"""Trainer check scripts, one per trainer (``<trainer>.py``): each runs with the TRAINER's Python
(standard library and the trainer's own packages only, never sftforge), loads an export folder as
its command does and writes the rows the trainer builds (see ``sftforge.export.check``).
"""
