"""Reading a YAML file the one safe way: recipes and training settings both come through here.

At most ``MAX_YAML_BYTES``, UTF-8, ``yaml.safe_load``, and aliases bounded: ``safe_load``
shares an aliased node instead of copying it, so a 600-byte "billion laughs" file loads fast,
but everything that later walks its values (option checks, the lock file, an operator joining a
list into a regex) sees the expanded size. Every failure is one error naming the file (and the
line and column of a syntax error) with the fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import SftforgeError

__all__ = ["MAX_YAML_BYTES", "MAX_YAML_VALUES", "read_yaml_file"]

MAX_YAML_BYTES = 1 << 20  # a recipe or settings file names files and options: 1 MiB is plenty
MAX_YAML_VALUES = 100_000  # scalars + lists + mappings, with YAML aliases expanded


def read_yaml_file(path: Path, what: str, error: type[SftforgeError]) -> Any:
    """The value of the YAML file ``path`` (``what`` names it in messages: "recipe"); each
    failure raises ``error``."""
    try:
        size = path.stat().st_size
        if size > MAX_YAML_BYTES:
            raise error(
                f"the {what} is {size} bytes, more than the "
                f"{MAX_YAML_BYTES >> 20} MiB a {what} may have.",
                file=str(path),
                hint=f"a {what} names files and options; put data in input files",
            )
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise error(
            f"the {what} is not UTF-8 text ({exc.reason} at byte {exc.start}).",
            file=str(path),
            hint=f"save the {what} as UTF-8",
        ) from None
    except OSError as exc:
        raise error(
            f"cannot read the {what}: {exc.strerror or exc}.",
            file=str(path),
            hint="check the path",
        ) from exc
    try:
        _check_expansion(text, str(path), what, error)
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise error(
            f"the {what} is not valid YAML: {getattr(exc, 'problem', None) or exc}.",
            file=str(path),
            line=mark.line + 1 if mark is not None else None,
            column=mark.column + 1 if mark is not None else None,
            hint="fix the YAML syntax (indentation, colons, quotes)",
        ) from exc


def _check_expansion(text: str, file: str, what: str, error: type[SftforgeError]) -> None:
    """Refuse YAML whose aliases expand to more than ``MAX_YAML_VALUES`` values, counted on the
    composed node graph once per node (aliases reuse the count), before anything is built."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is None:
        return
    sizes: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            if sizes[key] < 0:  # an alias inside its own anchor: infinite
                return MAX_YAML_VALUES + 1
            return sizes[key]
        sizes[key] = -1
        if isinstance(node, yaml.MappingNode):
            n = 1 + sum(size(k) + size(v) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            n = 1 + sum(size(v) for v in node.value)
        else:
            n = 1
        sizes[key] = min(n, MAX_YAML_VALUES + 1)
        return sizes[key]

    if size(root) > MAX_YAML_VALUES:
        raise error(
            f"the {what} expands to more than {MAX_YAML_VALUES} values (YAML aliases that "
            "repeat each other, like 'billion laughs').",
            file=file,
            hint="write the options out without nested aliases",
        )
