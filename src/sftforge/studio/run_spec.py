"""A recipe posted from a page, checked and made into the recipe the studio runs.

The recipe text is read by the library's one YAML reader (``sftforge.yamlfile``: safe, bounded)
and checked by the recipe loader, so a mistake is the one line ``sftforge run`` prints (file,
field, the fix). The studio decides what the CLI leaves to the recipe's author:

- the input is the chosen dataset version and the output a new version, so ``inputs`` and
  ``outputs`` are refused (the studio writes both);
- nothing outside the studio may be imported or written: ``plugins`` (code), ``cache:`` folders
  (the filters' metric cache is ``<home>/metric-cache``),
  ``executor: ray``, and options that write files (``failed``, ``tmp_dir``, ``llm.cache``) are
  refused; options that read a file (``documents``, ``seeds``, ``prompts``, ``words_file``,
  ``templates``, a ``tokenizer`` or ``model`` folder...) must lie inside the data root
  (``paths.confine``), relative to it;
- an LLM step's ``llm`` mapping names its endpoint by a saved connection (``connection: c_...``,
  kind ``llm``: base URL, model, and the API key kept as a secret) or by ``base_url`` and
  ``api_key_env`` (a variable of the server's environment: admins only, since the key goes to
  the URL named). The URL is checked like every URL the studio fetches (``netguard``), an API
  key written in the recipe is refused, and the calls share the studio's answer cache.

``studio_recipe`` is called twice: when the recipe is posted (to answer its mistakes at once)
and in the job (with the connection's key, which is put in a per-run environment variable for
the run's length and never stored).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..errors import RecipeError
from ..pipeline.recipe import Recipe
from ..yamlfile import read_yaml_file
from . import connections, netguard
from .errors import ApiError
from .paths import confine
from .settings import StudioSettings
from .store import Store

__all__ = [
    "ADDING_TASKS",
    "INPUT_FILE",
    "INPUT_NAME",
    "LLM_TASKS",
    "OUTPUT_FILE",
    "Prepared",
    "read_recipe_text",
    "studio_recipe",
]

INPUT_NAME = "version"  # the recipe input's name: what meta["source"] of every input row says
INPUT_FILE = "input.jsonl"
OUTPUT_FILE = "output.jsonl"
RECIPE_FILE = "recipe.yaml"
LLM_TASKS = (
    "respond", "judge", "judge_pair", "evol_instruct", "paraphrase", "translate",
    "doc_qa", "backtranslate", "self_instruct",
)  # fmt: skip
# LLM steps that add samples: an item whose calls failed is not rejected (the input row passes
# through, or there is none), it goes only to the step's ``failed`` file, which the studio
# writes in the run's folder and lists among the run's rejects
ADDING_TASKS = ("evol_instruct", "paraphrase", "translate", "doc_qa", "backtranslate",
                "self_instruct")  # fmt: skip
_SET_BY_STUDIO = ("inputs", "outputs", "plugins")
# step options that name a file to read (inside the data root) or to write (refused)
_READS = ("documents", "seeds", "prompts", "words_file", "templates")
_READS_IF_PATH = ("tokenizer", "model", "template")  # also a registry name when not a path
_WRITES = ("failed", "tmp_dir")
_LLM_WRITES = ("cache",)
_LLM_READS = ("prices",)


@dataclass
class Prepared:
    """The checked recipe (``recipe``) and what the run needs around it: environment variables
    holding connection keys (``env``, only in the job) and the LLM endpoints used (no secret)."""

    recipe: Recipe
    data: dict[str, Any]
    env: dict[str, str] = field(default_factory=dict)
    endpoints: list[dict[str, Any]] = field(default_factory=list)
    failed_files: list[tuple[str, Path]] = field(default_factory=list)  # (step, its failed file)


def _recipe_error(message: str, fld: str | None, hint: str | None = None) -> RecipeError:
    return RecipeError(message, file=RECIPE_FILE, field=fld, hint=hint)


def read_recipe_text(text: str, folder: Path) -> Any:
    """The posted recipe's value, read from ``folder/recipe.yaml`` by the one YAML reader;
    errors name ``recipe.yaml``, never the server's path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / RECIPE_FILE
    path.write_text(text, encoding="utf-8")
    try:
        return read_yaml_file(path, "recipe", RecipeError)
    except RecipeError as err:
        err.file = RECIPE_FILE
        err.message = err.message.replace(str(path), RECIPE_FILE)
        raise


def studio_recipe(
    data: Any,
    *,
    settings: StudioSettings,
    store: Store,
    folder: Path,
    may_use_env: bool,
    with_secrets: bool = False,
    run_id: str = "",
) -> Prepared:
    """``data`` (a parsed recipe without inputs and outputs) as the recipe the studio runs in
    ``folder``: input ``folder/input.jsonl``, one output ``folder/out/output.jsonl``, both in
    sftforge's canonical JSONL. Raises ``RecipeError`` (the CLI's one line) or ``ApiError``."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise _recipe_error(
            "a studio recipe must be a mapping with 'steps'.",
            None,
            "write 'steps:' and the operators under it, e.g. '- dedup_exact: {}'",
        )
    for key in _SET_BY_STUDIO:
        if key in data:
            raise _recipe_error(
                f"'{key}' is set by the studio: the input is the chosen version and the output"
                " a new version of the dataset.",
                key,
                f"remove '{key}' from the recipe",
            )
    if data.get("executor", "local") != "local":
        raise _recipe_error(
            "the studio runs recipes on this machine only.", "executor", "remove 'executor'"
        )
    if isinstance(data.get("cache"), str):
        raise _recipe_error(
            "a cache folder may not be named in a studio recipe.",
            "cache",
            "write 'cache: true' (the default) or 'cache: false'",
        )
    if not data.get("steps"):
        raise _recipe_error(
            "the recipe has no steps.", "steps", "add 'steps:' with at least one operator"
        )
    out = copy.deepcopy(data)
    prepared_env: dict[str, str] = {}
    endpoints: list[dict[str, Any]] = []
    failed_files: list[tuple[str, Path]] = []
    steps = out.get("steps")
    if isinstance(steps, list):
        for i, step in enumerate(steps, 1):
            if isinstance(step, str) and step in LLM_TASKS:  # a bare LLM step: no endpoint yet
                step = steps[i - 1] = {step: {}}
            if isinstance(step, dict) and len(step) == 1 and next(iter(step)) in LLM_TASKS:
                step.update({k: {} for k, v in step.items() if v is None})
            if isinstance(step, dict) and len(step) == 1:
                name, options = next(iter(step.items()))
                if isinstance(options, dict):
                    where = f"steps[{i}].{name}"
                    _check_paths(options, where, settings)
                    if name in LLM_TASKS:
                        llm = _llm(
                            options.get("llm"), where, settings=settings, store=store,
                            may_use_env=may_use_env, with_secrets=with_secrets,
                            env_name=f"SFTFORGE_STUDIO_KEY_{run_id}_{i}".upper().replace("-", "_"),
                            env=prepared_env, endpoints=endpoints,
                        )  # fmt: skip
                        step[name] = {**options, "llm": llm}
                        if name in ADDING_TASKS:
                            failed = folder / f"failed-{i}.jsonl"
                            step[name]["failed"] = str(failed)
                            failed_files.append((name, failed))
    if out.get("cache", True) is True:  # the filters' metric cache lives in the studio's home
        out["cache"] = str(settings.folder("metric-cache"))
    out["inputs"] = [{"path": str(folder / INPUT_FILE), "format": "sftforge", "name": INPUT_NAME}]
    out["outputs"] = {"train": {"format": "sftforge", "path": OUTPUT_FILE}}
    base = settings.data_root if settings.data_root is not None else folder
    recipe = Recipe.from_dict(out, base_dir=Path(base), file=RECIPE_FILE)
    return Prepared(recipe, out, prepared_env, endpoints, failed_files)


def _check_paths(options: dict[str, Any], where: str, settings: StudioSettings) -> None:
    """Options that write files are refused; those that read one must be inside the data root
    (relative to it), and are replaced by their real path there."""
    for key in _WRITES:
        if options.get(key) is not None:
            raise _recipe_error(
                f"option '{key}' writes a file on the server; the studio keeps a run's files"
                " itself.",
                f"{where}.{key}",
                f"remove '{key}': failed items are among the run's rejects",
            )
    for key in (*_READS, *_READS_IF_PATH):
        value = options.get(key)
        if not isinstance(value, str) or not value:
            continue
        if key in _READS_IF_PATH and not _looks_like_path(value):
            continue
        # the checked real path: operators that resolve against the working folder read it too
        options[key] = _inside_root(value, f"{where}.{key}", settings)


def _looks_like_path(value: str) -> bool:
    return "/" in value or "\\" in value or value.startswith((".", "~"))


def _inside_root(value: str, fld: str, settings: StudioSettings) -> str:
    try:
        return str(confine(settings.data_root, value))
    except ApiError as err:
        raise ApiError(err.status, err.code, f"{fld}: {err.message}", fld, err.hint) from None


def _llm(
    given: Any,
    where: str,
    *,
    settings: StudioSettings,
    store: Store,
    may_use_env: bool,
    with_secrets: bool,
    env_name: str,
    env: dict[str, str],
    endpoints: list[dict[str, Any]],
) -> dict[str, Any]:
    """A step's ``llm`` mapping as the studio runs it (see the module docstring)."""
    fld = f"{where}.llm"
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise _recipe_error(
            "'llm' must be a mapping.", fld, "write llm: {connection: ID, model: NAME}"
        )
    llm = dict(given)
    if "api_key" in llm:
        raise _recipe_error(
            "an API key may not be written in a recipe.",
            f"{fld}.api_key",
            "save the endpoint as a connection of kind llm (its key is kept apart) and write"
            " 'connection: <its id>'",
        )
    for key in _LLM_WRITES:
        if llm.get(key) not in (None, True):
            raise _recipe_error(
                f"'llm.{key}' names a file on the server; the studio keeps one answer cache.",
                f"{fld}.{key}",
                f"remove 'llm.{key}'",
            )
    for key in _LLM_READS:
        if isinstance(llm.get(key), str):
            llm[key] = _inside_root(llm[key], f"{fld}.{key}", settings)
    if llm.get("provider", "openai") != "openai":
        raise _recipe_error(
            "the studio calls OpenAI-compatible endpoints only.",
            f"{fld}.provider",
            "remove 'provider', or run local models with 'sftforge run'",
        )
    connection_id = llm.pop("connection", None)
    if connection_id is not None:
        conn = connections.get_connection(store, str(connection_id))
        if conn.kind != "llm":
            raise ApiError(
                400, "invalid", f"{fld}.connection: connection {conn.id} is a {conn.kind}"
                " connection, not an llm one.", f"{fld}.connection",
                "save the endpoint as a connection of kind llm",
            )  # fmt: skip
        if llm.get("base_url") or llm.get("api_key_env"):
            raise _recipe_error(
                "'connection' names the endpoint: 'base_url' and 'api_key_env' go with it.",
                fld,
                "write either 'connection' or 'base_url' (and 'api_key_env')",
            )
        llm["base_url"] = conn.settings.get("base_url")
        llm.setdefault("model", conn.settings.get("model") or "")
        if conn.secret_set:
            llm["api_key_env"] = env_name
            if with_secrets:
                secret = connections.load_secrets(store, conn.id).get("api_key")
                if secret:
                    env[env_name] = secret
        endpoints.append(
            {"connection": conn.id, "base_url": llm["base_url"], "model": llm["model"]}
        )
    else:
        if llm.get("api_key_env") and not may_use_env:
            raise ApiError(
                403,
                "forbidden",
                f"{fld}.api_key_env: naming a variable of the server's environment needs the"
                " admin role.",
                f"{fld}.api_key_env",
                "use a saved connection of kind llm (an admin saves it)",
            )
        endpoints.append({"base_url": llm.get("base_url"), "model": llm.get("model")})
    base_url = llm.get("base_url")
    if not isinstance(base_url, str) or not base_url:
        raise _recipe_error(
            "the LLM step names no endpoint.",
            f"{fld}.base_url",
            "write llm: {connection: <id>} or llm: {base_url: https://..., model: NAME}",
        )
    if not llm.get("model"):
        raise _recipe_error(
            "the LLM step names no model.",
            f"{fld}.model",
            "write llm: {model: NAME} (or save the model with the connection)",
        )
    if "@" in urlsplit(base_url).netloc:
        raise _recipe_error(
            "the base URL carries a login; credentials may not be written in a recipe.",
            f"{fld}.base_url",
            "save the endpoint as a connection of kind llm (its key is kept apart)",
        )
    try:
        netguard.check_url(base_url, allow_private=settings.allow_private_urls)
    except netguard.UnsafeUrlError as err:
        raise ApiError(400, "unsafe_url", f"{fld}.base_url: {err.message}", f"{fld}.base_url",
                       err.hint) from None  # fmt: skip
    if llm.get("cache", True) is not None:  # null: no cache, as in a recipe
        llm["cache"] = str(settings.folder("llm-cache") / "answers.sqlite")
    return llm
