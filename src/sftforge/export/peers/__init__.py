"""Standalone trainer checks: each script runs with its trainer's own Python (see export/check.py)."""
