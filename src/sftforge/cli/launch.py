"""The ``sftforge`` entry point: answers ``version`` and the top-level help without importing
the command-line framework, runs ``convert`` with plain arguments the same way
(:mod:`sftforge.cli.direct`), and hands everything else to :func:`sftforge.cli.main.main`.

Why: typer (with click, and pydantic in its newer releases) takes longer to import than the whole
answer to ``sftforge version`` or ``sftforge --help``; people and scripts call those often. The
top-level help below is plain text kept equal to the real command list by a test
(tests/cli/test_cli_launch.py); ``sftforge COMMAND --help`` is typer's own.
"""

from __future__ import annotations

import sys

__all__ = ["HELP", "main", "take_quiet"]

# (command, first line of its help), in the order ``sftforge.cli.main`` registers them
COMMANDS: tuple[tuple[str, str], ...] = (
    ("version", "Print the sftforge version."),
    ("convert", "Convert IN to OUT in the format given by --to."),
    ("inspect", "Describe a dataset file: format, counts, roles, turns, lengths, problems, examples."),
    ("validate", "Check every record of FILE; list each problem as file:line and exit 1 if there is any."),
    ("demo", "Inspect and convert the built-in example datasets; outputs go to runs/demo/."),
    ("generate", "Generate or score samples with an LLM (see docs/generate.md)."),
    ("run", "Run a recipe: read the inputs, apply the steps, write outputs, rejects and a report."),
    ("tokenize", "Render, tokenize and mask samples into a Parquet file trainers read."),
    ("preview", "Show a sample with trained tokens highlighted against masked ones."),
    ("lint", "Find double BOS, untrained EOS, injected special tokens, bad role order and more."),
    ("export", "Write data in the form a training framework reads, with its config and command."),
    ("studio", "Start the web workspace (browse, edit, review, version, export) on 127.0.0.1."),
    ("train", "Fine-tune a local model (LoRA, QLoRA or full) on sftforge's tokenized data."),
    ("merge", "Merge a LoRA adapter into its base: safetensors, tokenizer, chat template, generation config."),
    ("chat", "Chat with a model in the terminal through its own chat template; --compare BASE side by side."),
    ("eval", "Compare a tuned model with its base: loss, perplexity, both answers, LLM-judge win rate."),
)  # fmt: skip

_WIDTH = max(len(name) for name, _ in COMMANDS)
HELP = (
    "Usage: sftforge [OPTIONS] COMMAND [ARGS]...\n\n"
    "  Build, clean, convert, tokenize and hand over fine-tuning datasets.\n\n"
    "Options:\n"
    "  --s3-endpoint TEXT  Endpoint of an S3-compatible store for s3:// inputs and outputs\n"
    "                      (MinIO, Alibaba OSS, Tencent COS); default AWS_ENDPOINT_URL or the\n"
    "                      AWS config file.\n"
    "  -q, --quiet         no progress bars or info lines, only errors (also accepted after\n"
    "                      the command)\n"
    "  --help              Show this message and exit.\n\n"
    "Commands:\n"
    + "".join(f"  {name:<{_WIDTH}}  {text}\n" for name, text in COMMANDS)
    + "\nsftforge COMMAND --help shows a command's arguments and options.\n"
)
_QUIET = ("-q", "--quiet")


def take_quiet(argv: list[str]) -> tuple[list[str], bool]:
    """``argv`` without ``--quiet``/``-q`` (up to a ``--``), and whether one was there: every
    command takes it, before or after the command name."""
    end = argv.index("--") if "--" in argv else len(argv)
    kept = [a for a in argv[:end] if a not in _QUIET] + argv[end:]
    return kept, len(kept) != len(argv)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    plain, _ = take_quiet(args)
    if plain in (["version"], ["--version"]):
        from .. import __version__

        sys.stdout.write(__version__ + "\n")
        return 0
    if plain == ["--help"]:
        sys.stdout.write(HELP)
        return 0
    if not plain:  # as typer does with no arguments: the help, and the usage-error exit code
        sys.stderr.write(HELP)
        return 2
    rc = _direct(args)
    if rc is not None:
        return rc
    from .main import main as full

    return full(args)


def _direct(args: list[str]) -> int | None:
    """``run_direct(args)`` (plain arguments of a hot command: no typer at all) with the cyclic
    garbage collector relaxed as ``gc_relaxed`` relaxes it.

    Why: importing what a command needs makes tens of thousands of long-lived objects (modules,
    functions, classes), and at the default threshold (700 new objects) the collector rescans
    them over and over: about a tenth of a small conversion's time. Cycles are still collected,
    only less often; the threshold is put back for whatever runs after."""
    import gc

    old = gc.get_threshold()
    gc.set_threshold(100_000, 50, 100)
    try:
        from .direct import run_direct

        return run_direct(args)
    finally:
        gc.set_threshold(*old)
