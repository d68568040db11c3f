"""YAML recipes <-> ``Recipe`` objects, validated before any work starts.

A recipe names its inputs (path, optional format, a name and an optional mixing weight, ratio or
count), the ordered steps (``- op_name: {options}``) and the outputs per split. Every unknown key
fails here with the list of valid ones; every step is built once with ``build_op`` so an unknown
operator or option fails before a single record is read. YAML is read by
``sftforge.yamlfile`` (``yaml.safe_load``, size and aliases bounded).
"""

from __future__ import annotations

import importlib
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..errors import RecipeError
from ..io.folders import HUB_SCHEMES
from ..io.remote import is_url, shown
from ..ops.base import OPS, Op, build_op
from ..yamlfile import read_yaml_file

__all__ = [
    "EXECUTORS",
    "InputSpec",
    "OutputSpec",
    "Recipe",
    "StepSpec",
    "import_plugins",
    "load_ops",
    "load_recipe",
]

_TOP_KEYS = (
    "inputs",
    "steps",
    "outputs",
    "seed",
    "workers",
    "chunk_size",
    "memory_budget_mb",
    "plugins",
    "cache",
    "executor",
)
_INPUT_KEYS = ("path", "format", "name", "weight", "ratio", "count", "on_error", "columns")
_LLAMAFACTORY = "llamafactory:"
_OUTPUT_KEYS = ("format", "path", "allow_lossy")
_MIX_KEYS = ("weight", "ratio", "count")


@dataclass(slots=True)
class InputSpec:
    """One input file. ``weight``/``ratio``/``count`` (at most one) say how much of it to mix in."""

    path: str
    name: str
    format: str | None = None
    weight: float | None = None
    ratio: float | None = None
    count: int | None = None
    on_error: str = "skip"
    columns: dict[str, str] | None = None  # {SOURCE: PART}, see sftforge.formats.columns

    def to_dict(self) -> dict[str, Any]:
        # what locks and reports record: a URL's password is never written
        out: dict[str, Any] = {"path": shown(self.path), "name": self.name, "format": self.format}
        if self.columns is not None:
            out["columns"] = dict(self.columns)
        for key in _MIX_KEYS:
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        out["on_error"] = self.on_error
        return out


@dataclass(slots=True)
class StepSpec:
    """One step: a registered operator name and its options as written in the recipe."""

    op: str
    options: dict[str, Any] = field(default_factory=dict)

    def build(self) -> Op:
        return build_op(self.op, self.options)


@dataclass(slots=True)
class OutputSpec:
    """Where one split goes: format name and a path relative to the run folder, or an
    ``s3://``/``ftp://`` URL (written in the run folder under its file name, then uploaded)."""

    split: str
    format: str
    path: str
    allow_lossy: bool = False

    @property
    def local(self) -> str:
        """The file in the run folder: ``path``, or the URL's file name."""
        return posixpath.basename(urlsplit(self.path).path) if is_url(self.path) else self.path

    @property
    def upload(self) -> str | None:
        """The URL the finished file is copied to, if any."""
        return self.path if is_url(self.path) else None

    def to_dict(self) -> dict[str, Any]:
        return {"format": self.format, "path": shown(self.path), "allow_lossy": self.allow_lossy}


@dataclass(slots=True)
class Recipe:
    """A validated recipe. ``base_dir`` resolves relative input paths (the recipe's folder)."""

    inputs: list[InputSpec]
    steps: list[StepSpec]
    outputs: dict[str, OutputSpec]
    seed: int = 0
    workers: int | None = None
    chunk_size: int = 1000
    # MB of dedup keys the parent process keeps in memory; past it they spill to files
    memory_budget_mb: int = 256
    plugins: list[str] = field(default_factory=list)
    cache: bool | str = True
    # "local" (process pool) or "ray"; not in ``resolved()``: it never changes the outputs
    executor: str = "local"
    base_dir: Path = field(default_factory=Path.cwd)
    file: str | None = None  # the recipe file, for errors found after parsing

    @classmethod
    def from_dict(
        cls, data: Any, *, base_dir: Path | None = None, file: str | None = None
    ) -> Recipe:
        return _parse(data, base_dir or Path.cwd(), file)

    def build_ops(self) -> list[Op]:
        """Fresh operator objects for every step (raises ``RecipeError`` on bad names/options)."""
        load_ops(step.op for step in self.steps)
        import_plugins(self.plugins)
        ops: list[Op] = []
        for i, step in enumerate(self.steps, 1):
            try:
                op = step.build()
                # operators that read files named in their options (doc_qa's documents...)
                # resolve them against the recipe's folder, like the inputs
                bind = getattr(op, "bind_recipe_dir", None)
                if callable(bind):
                    bind(self.base_dir)
                ops.append(op)
            except RecipeError as exc:
                exc.field = f"steps[{i}].{step.op}" + (f".{exc.field}" if exc.field else "")
                raise
        return ops

    def input_path(self, spec: InputSpec) -> Path | str:
        """A local input as a Path (relative to the recipe's folder; ``dataset_info.json#entry``
        stays a reference to the entry); a URL or hub id as given."""
        if is_url(spec.path) or spec.path.startswith(HUB_SCHEMES):
            return spec.path
        p = Path(spec.path).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    def input_format(self, spec: InputSpec) -> str | None:
        """The input's format, with ``llamafactory:<dataset_info.json>#entry`` resolved against
        the recipe's folder (like the paths), not the working directory."""
        fmt = spec.format
        if fmt is None or not fmt.startswith(_LLAMAFACTORY):
            return fmt
        info = Path(fmt[len(_LLAMAFACTORY) :]).expanduser()
        return _LLAMAFACTORY + str(info if info.is_absolute() else self.base_dir / info)

    def input_files(self, spec: InputSpec) -> list[Path | str]:
        """The files an input's records come from (hashed into the lock): the data file (or URL,
        folder, hub id), and for a ``dataset_info.json`` entry the registry too (its mapping
        changes the records)."""
        path = self.input_path(spec)
        if isinstance(path, str):
            return [path]
        fmt = self.input_format(spec)
        head, sep, entry = str(path).rpartition("#")
        if sep and head.endswith(".json") and Path(head).is_file():
            return [Path(head), *_entry_file(Path(head), entry)]
        if fmt is not None and fmt.startswith(_LLAMAFACTORY):
            info = fmt[len(_LLAMAFACTORY) :].partition("#")[0]
            return [path, Path(info)]
        return [path]

    def resolved(self) -> dict[str, Any]:
        """The recipe with every operator option filled in (what ``recipe.lock.yaml`` records)."""
        ops = self.build_ops()
        return {
            "seed": self.seed,
            "chunk_size": self.chunk_size,
            "plugins": list(self.plugins),
            "inputs": [i.to_dict() for i in self.inputs],
            "steps": [{s.op: _plain(op.options())} for s, op in zip(self.steps, ops, strict=True)],
            "outputs": {k: o.to_dict() for k, o in self.outputs.items()},
        }


def _entry_file(info: Path, entry: str) -> list[Path]:
    from ..formats.llamafactory import load_dataset_info

    found = load_dataset_info(info, entry)[entry].path
    return [] if found is None else [found]


def load_recipe(source: str | Path | dict[str, Any] | Recipe) -> Recipe:
    """A ``Recipe`` from a YAML file path, a dict, or an existing Recipe (returned as is)."""
    if isinstance(source, Recipe):
        return source
    if isinstance(source, dict):
        return _parse(source, Path.cwd(), None)
    path = Path(source)
    data = read_yaml_file(path, "recipe", RecipeError)
    return _parse(data, path.resolve().parent, str(path))


def load_ops(names: Iterable[str] | None = None) -> None:
    """Import every operator module under ``sftforge.ops`` so the registry is complete.

    With ``names``, stop as soon as all of them are registered: a recipe pays only for the
    operator families it uses (the LLM and chat ones import a lot). A name no module registers
    (a typo, a plugin's operator) still imports them all, so errors list every valid name."""
    import pkgutil

    from .. import ops

    want = None if names is None else set(names)
    if want is not None and want <= OPS.keys():
        return
    for info in pkgutil.iter_modules(ops.__path__):
        if info.name in ("base", "text"):
            continue
        try:
            importlib.import_module(f"sftforge.ops.{info.name}")
        except ImportError:  # an operator family whose optional dependency is missing
            continue
        if want is not None and want <= OPS.keys():
            return


def import_plugins(plugins: list[str]) -> None:
    """Import modules that register extra operators (``plugins:`` in a recipe)."""
    for mod in plugins:
        try:
            importlib.import_module(mod)
        except ImportError as exc:
            raise RecipeError(
                f"cannot import plugin module '{mod}': {exc}.",
                field="plugins",
                hint="make the module importable (PYTHONPATH) or remove it from 'plugins'",
            ) from exc


# -- parsing ------------------------------------------------------------------------------------


def _err(msg: str, file: str | None, fld: str | None, hint: str | None = None) -> RecipeError:
    return RecipeError(msg, file=file, field=fld, hint=hint)


def _check_keys(d: dict[str, Any], valid: tuple[str, ...], where: str, file: str | None) -> None:
    unknown = sorted(str(k) for k in set(d) - set(valid))
    if unknown:
        raise _err(
            f"unknown key {', '.join(repr(u) for u in unknown)} in {where}.",
            file,
            where,
            f"valid keys: {', '.join(valid)}",
        )


def _parse(data: Any, base_dir: Path, file: str | None) -> Recipe:
    if not isinstance(data, dict):
        raise _err(
            "a recipe must be a mapping with 'inputs', 'steps' and 'outputs'.",
            file,
            None,
            "start from examples/quickstart/recipe.yaml",
        )
    _check_keys(data, _TOP_KEYS, "recipe", file)
    for key in ("inputs", "outputs"):
        if key not in data:
            raise _err(f"the recipe has no '{key}'.", file, key, f"add an '{key}:' section")
    plugins = data.get("plugins") or []
    if not isinstance(plugins, list) or not all(isinstance(p, str) for p in plugins):
        raise _err("'plugins' must be a list of module names.", file, "plugins")
    recipe = Recipe(
        inputs=_parse_inputs(data["inputs"], file),
        steps=_parse_steps(data.get("steps") or [], file),
        outputs=_parse_outputs(data["outputs"], file),
        seed=_int(data.get("seed", 0), "seed", file, example=42),
        workers=None
        if data.get("workers") is None
        else _int(data["workers"], "workers", file, minimum=1, example=4),
        chunk_size=_int(data.get("chunk_size", 1000), "chunk_size", file, minimum=1, example=1000),
        memory_budget_mb=_int(
            data.get("memory_budget_mb", 256), "memory_budget_mb", file, minimum=1, example=256
        ),
        plugins=list(plugins),
        cache=_cache(data.get("cache", True), file),
        executor=_executor(data.get("executor", "local"), file),
        base_dir=base_dir,
        file=file,
    )
    _apply_mixing(recipe, file)
    try:
        recipe.build_ops()  # unknown operators/options fail now, before any work
    except RecipeError as exc:
        exc.file = exc.file or file
        raise
    return recipe


_MIX_OPTION = {"weight": "weights", "ratio": "ratios", "count": "counts"}


def _apply_mixing(recipe: Recipe, file: str | None) -> None:
    """Inputs' weight/ratio/count become the options of the ``mix`` step (added first if absent)."""
    kinds = {k for s in recipe.inputs for k in _MIX_KEYS if getattr(s, k) is not None}
    if not kinds:
        return
    if len(kinds) > 1:
        raise _err(
            f"inputs mix by {' and '.join(sorted(kinds))}; use one kind for all inputs.",
            file,
            "inputs",
            "give every input a weight, or every input a ratio, or counts",
        )
    (kind,) = kinds
    values = {s.name: getattr(s, kind) for s in recipe.inputs if getattr(s, kind) is not None}
    option = _MIX_OPTION[kind]
    mix = next((s for s in recipe.steps if s.op == "mix"), None)
    if mix is None:
        recipe.steps.insert(0, StepSpec("mix", {option: values, "seed": recipe.seed}))
    elif any(mix.options.get(v) is not None for v in _MIX_OPTION.values()):
        raise _err(
            "mixing is set both on the inputs and in the 'mix' step.",
            file,
            "inputs",
            "set weight/ratio/count on the inputs or in the mix step, not both",
        )
    else:
        mix.options[option] = values


def _int(value: Any, name: str, file: str | None, minimum: int = 0, example: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _err(
            f"'{name}' must be an integer >= {minimum}, got {value!r}.",
            file,
            name,
            f"write a whole number, e.g. '{name}: {max(example, minimum)}'",
        )
    return value


def _cache(value: Any, file: str | None) -> bool | str:
    if isinstance(value, bool) or (isinstance(value, str) and value.strip()):
        return value
    raise _err(
        f"'cache' must be true, false or a folder path, got {value!r}.",
        file,
        "cache",
        "write 'cache: false' to turn the metric cache off, or a folder name",
    )


EXECUTORS = ("local", "ray")


def _executor(value: Any, file: str | None) -> str:
    if value in EXECUTORS:
        return str(value)
    raise _err(
        f"'executor' must be one of {', '.join(EXECUTORS)}, got {value!r}.",
        file,
        "executor",
        "write 'executor: ray' to run on a Ray cluster (pip install 'sftforge[ray]'),"
        " or leave it out for this machine's process pool",
    )


def _check_format(name: Any, file: str | None, where: str) -> str:
    """A format name that exists (``llamafactory:...`` specs are checked when read)."""
    from ..api import resolve_format
    from ..errors import FormatError

    if not isinstance(name, str) or not name:
        raise _err(f"{where} must be a format name, got {name!r}.", file, where, "e.g. sharegpt")
    if not name.startswith("llamafactory:"):
        try:
            resolve_format(name)
        except FormatError as exc:
            raise _err(exc.message, file, where, exc.hint) from None
    return name


def _parse_inputs(raw: Any, file: str | None) -> list[InputSpec]:
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise _err("'inputs' is empty.", file, "inputs", "name at least one input file")
    specs: list[InputSpec] = []
    for i, item in enumerate(items, 1):
        where = f"inputs[{i}]"
        if isinstance(item, str):
            item = {"path": item}
        if not isinstance(item, dict) or "path" not in item:
            raise _err(f"{where} needs a 'path'.", file, where, "write '- path: data.jsonl'")
        _check_keys(item, _INPUT_KEYS, where, file)
        given = [k for k in _MIX_KEYS if item.get(k) is not None]
        if len(given) > 1:
            raise _err(
                f"{where} sets {' and '.join(given)}; choose one.", file, where, "keep one of them"
            )
        for k in given:
            if not isinstance(item[k], (int, float)) or isinstance(item[k], bool) or item[k] < 0:
                raise _err(f"{where}.{k} must be a number >= 0.", file, f"{where}.{k}")
        on_error = item.get("on_error", "skip")
        if on_error not in ("skip", "raise"):
            raise _err(f"{where}.on_error must be 'skip' or 'raise'.", file, f"{where}.on_error")
        columns = _columns(item.get("columns"), where, file)
        if columns is not None and item.get("format") is not None:
            raise _err(
                f"{where} sets both 'format' and 'columns'.",
                file,
                where,
                "keep 'columns' (it says where each part is) or 'format', not both",
            )
        name = str(item.get("name") or _default_name(str(item["path"])) or f"input{i}")
        specs.append(
            InputSpec(
                path=str(item["path"]),
                name=name,
                format=None
                if item.get("format") is None
                else _check_format(item["format"], file, f"{where}.format"),
                weight=item.get("weight"),
                ratio=item.get("ratio"),
                count=item.get("count"),
                on_error=on_error,
                columns=columns,
            )
        )
    names = [s.name for s in specs]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise _err(
            f"input name {', '.join(repr(d) for d in dup)} is used twice.",
            file,
            "inputs",
            "give each input a unique 'name'",
        )
    return specs


def _default_name(path: str) -> str:
    """``data/faq.csv`` -> ``faq``; ``dataset_info.json#faq`` -> ``faq`` (the entry's name)."""
    head, sep, entry = path.rpartition("#")
    if sep and head.endswith(".json") and entry:
        return entry
    # a URL's name is the last part of its path (``s3://bucket/raw/faq.jsonl.gz`` -> ``faq``)
    return Path(urlsplit(path).path or path).name.split(".")[0].split("#")[0]


def _columns(raw: Any, where: str, file: str | None) -> dict[str, str] | None:
    """An input's ``columns:`` mapping, checked now (an unknown part fails before any work)."""
    if raw is None:
        return None
    from ..errors import FormatError
    from ..formats.columns import ColumnMap

    if not isinstance(raw, dict):
        raise _err(
            f"{where}.columns must be a mapping of field to part.",
            file,
            f"{where}.columns",
            "e.g. columns: {问题: prompt, 答案: response}",
        )
    try:
        return ColumnMap.from_mapping(raw).to_dict()
    except FormatError as exc:
        raise _err(exc.message, file, f"{where}.columns", exc.hint) from None


def _parse_steps(raw: Any, file: str | None) -> list[StepSpec]:
    if not isinstance(raw, list):
        raise _err(
            f"'steps' must be a list of '- op_name: {{options}}', not a {type(raw).__name__}.",
            file,
            "steps",
            "put a '- ' before each step (a list keeps their order; a mapping does not)",
        )
    steps: list[StepSpec] = []
    for i, item in enumerate(raw, 1):
        where = f"steps[{i}]"
        if isinstance(item, str):
            steps.append(StepSpec(item))
            continue
        if not isinstance(item, dict) or len(item) != 1:
            raise _err(
                f"{where} must be one operator: '- op_name: {{options}}'.",
                file,
                where,
                "write one operator per list item",
            )
        ((name, options),) = item.items()
        if options is None:
            options = {}
        if not isinstance(options, dict):
            raise _err(
                f"{where}: the options of '{name}' must be a mapping, not {options!r}.",
                file,
                where,
                f"write '- {name}: {{option: value}}' (or '- {name}: {{}}' for the defaults)",
            )
        steps.append(StepSpec(str(name), dict(options)))
    return steps


def _parse_outputs(raw: Any, file: str | None) -> dict[str, OutputSpec]:
    if not isinstance(raw, dict) or not raw:
        raise _err(
            "'outputs' must map split names to {format, path}.",
            file,
            "outputs",
            "e.g. outputs: {train: {format: sharegpt, path: train.jsonl}}",
        )
    outs: dict[str, OutputSpec] = {}
    for split, spec in raw.items():
        where = f"outputs.{split}"
        if isinstance(spec, str):
            spec = {"format": spec}
        if not isinstance(spec, dict) or "format" not in spec:
            raise _err(f"{where} needs a 'format'.", file, where)
        _check_keys(spec, _OUTPUT_KEYS, where, file)
        path = str(spec.get("path") or f"{split}.jsonl")
        if is_url(path):
            if not path.startswith(("s3://", "ftp://")) or not posixpath.basename(
                urlsplit(path).path
            ):
                raise _err(
                    f"{where}.path: outputs can be uploaded to s3:// and ftp:// files only, "
                    f"got {shown(path)!r}.",
                    file,
                    f"{where}.path",
                    "write s3://bucket/key/train.jsonl or ftp://host/folder/train.jsonl",
                )
        elif Path(path).is_absolute() or ".." in Path(path).parts:
            raise _err(
                f"{where}.path must stay inside the run folder, got {path!r}.",
                file,
                f"{where}.path",
                "use a relative path without '..'",
            )
        fmt = _check_format(spec["format"], file, f"{where}.format")
        lossy = spec.get("allow_lossy", False)
        if not isinstance(lossy, bool):
            raise _err(
                f"{where}.allow_lossy must be true or false, got {lossy!r}.",
                file,
                f"{where}.allow_lossy",
                "write 'allow_lossy: true' or 'allow_lossy: false' (without quotes)",
            )
        outs[str(split)] = OutputSpec(str(split), fmt, path, lossy)
    locals_ = [o.local for o in outs.values()]
    # an upload is written in the run folder under its URL's file name first; other collisions
    # are the output plan's (pipeline/outplan.py)
    uploaded = {o.local for o in outs.values() if o.upload is not None}
    clash = sorted({n for n in locals_ if locals_.count(n) > 1 and n in uploaded})
    if clash:
        raise _err(
            f"two outputs would be written to the same file in the run folder ({clash[0]}).",
            file,
            "outputs",
            "give uploaded outputs different file names",
        )
    return outs


def _plain(value: Any) -> Any:
    """Options as plain YAML-safe values (tuples -> lists, sets -> sorted lists)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(_plain(v) for v in value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
