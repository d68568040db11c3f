"""Helpers shared by the format modules: typed field access with exact error messages, ids,
tools and tool calls as JSON, media columns, and the capability check every ``dump`` runs.

Kept free of per-format knowledge. Everything here is on the per-record hot path, so the checks
are plain ``isinstance`` tests and the error text is built only when something is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any, NoReturn

import orjson

from ..errors import ConversionError, EmptyAnswer, FormatError
from ..sample import ID_PENDING, ROLES, Media, Message, Sample, ToolCall, id_pending, stored_id
from .base import Capabilities, LossLog

__all__ = [
    "ANSWER_OPTIONAL",
    "FIELDS",
    "LOSS_KINDS",
    "MEDIA_COLUMNS",
    "arguments_of",
    "check_losses",
    "dump_calls",
    "dump_media",
    "fail",
    "has_own_id",
    "has_values",
    "is_auto_id",
    "missing",
    "no_answer",
    "not_a_string",
    "pairs_of",
    "parse_calls",
    "parse_media",
    "parse_tools",
    "plain_turns",
    "put_extra",
    "put_fields",
    "put_id",
    "record_id",
    "require_dict",
    "take_fields",
    "text_field",
    "type_name",
    "with_fields",
    "wrap_tools",
]

# what ``LossLog.lose`` is called with; the CLI prints these counts after a lossy conversion
LOSS_KINDS = (
    "system prompt",
    "multi-turn",
    "tools",
    "tool calls",
    "tool call ids",
    "reasoning",
    "train flags",
    "message names",
    "rejected answer",
    "KTO label",
    "media",
    "text alongside tool calls",
    "extra fields",
    "extra turn fields",
    "ids",
)

# the meta key holding a record's top-level keys that the format does not read (name -> JSON
# value, in input order). A namespace of its own, so a user's ``source`` or ``row`` column never
# meets the pipeline's ``meta["source"]``/``meta["row"]``; the text format keeps a document's
# other keys under the same name.
FIELDS = "fields"

# LLaMA-Factory / ms-swift column names for each media type, in the order media are kept
MEDIA_COLUMNS: tuple[tuple[str, str], ...] = (
    ("image", "images"),
    ("video", "videos"),
    ("audio", "audios"),
)

_AUTO_ID = re.compile(r"s[0-9a-f]{16}")
_JSON_NAMES = {
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "a boolean",
    list: "a list",
    dict: "an object",
    type(None): "null",
}


def type_name(value: Any) -> str:
    """The JSON name of a value's type, as users see it in their file."""
    return _JSON_NAMES.get(type(value), type(value).__name__)


def fail(message: str, field: str | None = None, hint: str | None = None) -> NoReturn:
    raise FormatError(message, field=field, hint=hint)


# Whether conversations without an answer are read (``read_prompts``: prompts for a generator,
# a recipe's inputs with a ``respond`` step, a studio import of prompts). ``api.decode`` sets it
# only around a second parse of a record whose first parse raised ``EmptyAnswer``, so the common
# path pays nothing and a format's own reading (its field names, its checks) stays the one.
ANSWER_OPTIONAL: ContextVar[bool] = ContextVar("sftforge_answer_optional", default=False)


def no_answer(message: str, field: str, hint: str = "drop the record or add the answer") -> None:
    """An SFT record without an answer: ``EmptyAnswer`` (naming ``field``), unless answers are
    optional (``ANSWER_OPTIONAL``), when the caller goes on and reads it as a prompt."""
    if not ANSWER_OPTIONAL.get():
        raise EmptyAnswer(message, field=field, hint=hint)


def label_field(rec: dict[str, Any], key: str) -> bool | None:
    """The KTO label in column ``key``: ``None`` when absent, else it must be a bool."""
    label = rec.get(key)
    if label is None or type(label) is bool:
        return label
    fail(f"'{key}' must be true or false, not {label!r}.", field=key)


def require_dict(value: Any, fmt: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        fail(
            f"a record in the '{fmt}' format must be a JSON object, not {type_name(value)}.",
            hint=f"check that the file really is in the '{fmt}' format, or pass --from",
        )
    return value


def missing(key: str, record: dict[str, Any], fmt: str) -> NoReturn:
    # keys holding null are absent (Parquet rows and CSV unions carry every column)
    found = ", ".join(str(k) for k, v in record.items() if v is not None) or "none"
    fail(
        f"missing required field '{key}' (keys found: {found}).",
        field=key,
        hint=f"add '{key}' to every record, or pass --from with the record's real format (read as '{fmt}')",
    )


def text_field(record: dict[str, Any], key: str, fmt: str, *, required: bool = True) -> str:
    """``record[key]`` as a string: missing (when required), null or non-string is an error."""
    value = record.get(key)
    if type(value) is str:
        return value
    if value is None:
        if required:
            missing(key, record, fmt)
        return ""
    not_a_string(key, value)


def not_a_string(where: str, value: Any) -> NoReturn:
    fail(
        f"'{where}' must be a string, not {type_name(value)}.",
        field=where,
        hint="write it as a JSON string (in quotes)",
    )


def record_id(record: dict[str, Any]) -> str:
    """The record's own ``id`` (a string or an integer), else "" so a content id is used."""
    value = record.get("id")
    if type(value) is str:
        return value
    if type(value) is int:
        return str(value)
    return ""


def is_auto_id(sample_id: str) -> bool:
    """True for content ids (``s`` + 16 hex digits): those are recomputed, never written."""
    return _AUTO_ID.fullmatch(sample_id) is not None


def plain_turns(
    turns: list[Any], role_key: str, content_key: str, roles: Mapping[str, str], *, exact: bool
) -> list[Message] | None:
    """The formats' inline parse of the common case: ``turns`` as Messages when every turn is a
    dict whose tag maps through ``roles`` and whose content is a string (with ``exact``, a dict of
    those two keys only) and some assistant turn has non-blank content. None otherwise: the
    format's full parse then decides, with its checks and errors."""
    out: list[Message] = []
    answered = False
    for t in turns:
        if type(t) is not dict or (exact and len(t) != 2):
            return None
        tag, content = t.get(role_key), t.get(content_key)
        role = roles.get(tag) if type(tag) is str else None
        if role is None or type(content) is not str:
            return None
        out.append(Message(role, content))  # type: ignore[arg-type]
        if role == "assistant" and not answered and content and not content.isspace():
            answered = True
    return out if answered else None


def take_fields(rec: dict[str, Any], known: frozenset[str]) -> dict[str, Any] | None:
    """The keys of ``rec`` that are not in ``known`` (name -> value, in input order), or None.

    A reader puts them in ``meta[FIELDS]`` (top level) or ``Message.extra`` (a turn), values as
    they are (nulls, lists and objects included), so a writer can put them back."""
    extra: dict[str, Any] | None = None
    for key, value in rec.items():
        if key not in known:
            if extra is None:
                extra = {}
            extra[key] = value
    return extra


def has_values(kept: dict[str, Any] | None) -> bool:
    """True when kept fields (or turn keys) hold something: a null carries nothing to lose
    (OpenAI exports put ``"refusal": null`` in every message, Parquet unions null columns)."""
    return kept is not None and any(v is not None for v in kept.values())


def with_fields(meta: dict[str, Any], fields: dict[str, Any] | None) -> dict[str, Any]:
    """``meta`` with ``fields`` kept under ``FIELDS`` (when there are any)."""
    if fields is not None:
        meta[FIELDS] = fields
    return meta


def put_fields(
    out: dict[str, Any], sample: Sample, reserved: frozenset[str], loss: LossLog, target: str
) -> None:
    """Write the sample's kept top-level fields into ``out`` after the format's own keys.

    A field whose name the format reads itself (``reserved``) or has just written cannot be put
    back without changing what the record means: it is lost, counted as ``extra fields``."""
    meta = sample.meta
    if not meta:
        return
    fields = meta.get(FIELDS)
    if not fields or type(fields) is not dict:
        return
    clash = False
    for key, value in fields.items():
        if key in reserved or key in out:
            clash = clash or value is not None  # (a null carries nothing to lose)
        else:
            out[key] = value
    if clash:
        loss.lose("extra fields", sample, target)


def put_extra(
    out: dict[str, Any],
    m: Message,
    reserved: frozenset[str],
    sample: Sample,
    loss: LossLog,
    target: str,
) -> dict[str, Any]:
    """``out`` (one written turn) with the turn's kept keys added after its own; a key the
    format reads in a turn (``reserved``) is lost, counted as ``extra turn fields``."""
    extra = m.extra
    if extra:
        clash = False
        for key, value in extra.items():
            if key in reserved or key in out:
                clash = clash or value is not None
            else:
                out[key] = value
        if clash:
            loss.lose("extra turn fields", sample, target)
    return out


def has_own_id(sample: Sample) -> bool:
    """True when the sample's id came with the record (not a content id, which is recomputed)."""
    return not id_pending(sample) and _AUTO_ID.fullmatch(sample.id) is None


def put_id(out: dict[str, Any], sample: Sample) -> None:
    """Write the sample's own id; content ids are left out (and a deferred one not computed)."""
    sid = stored_id(sample)
    if sid is not ID_PENDING and _AUTO_ID.fullmatch(sid) is None:
        out["id"] = sid


def parse_tools(value: Any, key: str) -> list[dict[str, Any]] | None:
    """Tool definitions given as a list or as a JSON string of one (LLaMA-Factory, ms-swift)."""
    if not value:
        return None
    if type(value) is str:
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            fail(
                f"'{key}' is a string but not valid JSON.",
                field=key,
                hint="give the tools as a JSON list of function definitions",
            )
        if not value:
            return None
    if type(value) is dict:
        value = [value]
    if type(value) is not list or not all(type(t) is dict for t in value):
        fail(
            f"'{key}' must be a list of tool definitions (objects), not {type_name(value)}.",
            field=key,
        )
    # Sample.tools holds plain function definitions; OpenAI's {"type": "function",
    # "function": {...}} wrapper is taken off here and put back by the openai writer
    return [
        t["function"]
        if len(t) == 2 and t.get("type") == "function" and type(t.get("function")) is dict
        else t
        for t in value
    ]


def wrap_tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Function definitions in OpenAI's wrapper (definitions that have a ``type`` are kept)."""
    return [t if "type" in t else {"type": "function", "function": t} for t in tools]


def _arguments(value: Any, where: str) -> dict[str, Any]:
    if type(value) is dict:
        return value
    if value is None or value == "":
        return {}
    if type(value) is str:
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            parsed = None
        if type(parsed) is dict:
            return parsed
    fail(f"'{where}' must be a JSON object of arguments, not {value!r}.", field=where)


def parse_calls(value: Any, where: str) -> list[ToolCall]:
    """A function-call turn: a JSON string (or object/list) of ``{"name", "arguments"}``."""
    if type(value) is str:
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            fail(
                f"'{where}' must be a JSON function call like "
                '{"name": ..., "arguments": {...}}, not plain text.',
                field=where,
            )
    calls = value if type(value) is list else [value]
    out: list[ToolCall] = []
    for call in calls:
        if type(call) is not dict or type(call.get("name")) is not str:
            fail(f"'{where}' must hold objects with a string 'name'.", field=where)
        out.append(ToolCall(call["name"], _arguments(call.get("arguments"), where)))
    if not out:
        fail(f"'{where}' is an empty list of function calls.", field=where)
    return out


def dump_calls(calls: list[ToolCall]) -> str:
    """One call as a JSON object string, parallel calls as a JSON list string."""
    items = [{"name": c.name, "arguments": c.arguments} for c in calls]
    return orjson.dumps(items[0] if len(items) == 1 else items).decode()


def arguments_of(value: Any, where: str) -> dict[str, Any]:
    return _arguments(value, where)


def parse_media(record: dict[str, Any], columns: tuple[tuple[str, str], ...]) -> list[Media] | None:
    """Media paths from ``images``/``videos``/``audios`` style columns, grouped by type."""
    media: list[Media] | None = None
    for kind, key in columns:
        paths = record.get(key)
        if not paths:
            continue
        if type(paths) is str:
            paths = [paths]
        if type(paths) is not list or not all(type(p) is str for p in paths):
            fail(
                f"'{key}' must be a list of file paths (strings), not {paths!r}.",
                field=key,
                hint=f'write it as "{key}": ["path/to/file", ...]',
            )
        if media is None:
            media = []
        media.extend(Media(kind, p) for p in paths)  # type: ignore[arg-type]
    return media


def dump_media(out: dict[str, Any], sample: Sample, columns: tuple[tuple[str, str], ...]) -> None:
    if not sample.media:
        return
    for kind, key in columns:
        paths = [m.path for m in sample.media if m.type == kind]
        if paths:
            out[key] = paths


def check_losses(sample: Sample, caps: Capabilities, loss: LossLog, target: str) -> None:
    """Report (or refuse) every part of ``sample`` that ``caps`` says the format cannot carry.

    One pass over the messages; each kind is reported at most once per sample.
    """
    msgs = sample.messages
    lost: set[str] = set()  # hot path: one cheap test per message when nothing is special
    if not caps.system and msgs and msgs[0].role == "system":
        lost.add("system prompt")
    if not caps.tools and sample.tools:
        lost.add("tools")
    if not caps.preference and sample.rejected is not None:
        lost.add("rejected answer")
    if not caps.label and sample.label is not None:
        lost.add("KTO label")
    if not caps.media and sample.media:
        lost.add("media")
    if not caps.fields and sample.meta and has_values(sample.meta.get(FIELDS)):
        lost.add("extra fields")
    if not caps.ids and has_own_id(sample):
        lost.add("ids")
    for m in msgs if sample.rejected is None else [*msgs, sample.rejected]:
        if (
            m.reasoning is None
            and m.train is None
            and m.name is None
            and m.tool_calls is None
            and m.extra is None
            and m.role != "tool"
        ):
            continue
        if m.extra and not caps.turn_fields and has_values(m.extra):
            lost.add("extra turn fields")
        if m.reasoning is not None and not caps.reasoning:
            lost.add("reasoning")
        if m.train is not None and not caps.train_flags:
            lost.add("train flags")
        if m.name is not None and not caps.names:
            lost.add("message names")
        if m.tool_calls or m.role == "tool":
            if not caps.tool_calls:
                lost.add("tool calls")
            elif not caps.tool_call_ids and (
                m.tool_call_id is not None or any(c.id is not None for c in m.tool_calls or ())
            ):
                lost.add("tool call ids")
    if lost:
        for what in sorted(lost):
            loss.lose(what, sample, target)


def pairs_of(
    sample: Sample, loss: LossLog, target: str, *, single_turn: bool = False
) -> tuple[str | None, list[tuple[str, str]]]:
    """The system prompt and the (user, assistant) exchanges of a sample, for pair formats.

    Tool turns and call-only assistant turns are skipped (``check_losses`` has reported them).
    ``single_turn`` keeps the first exchange and reports ``multi-turn`` when there are more.
    A conversation that is not user/assistant alternation cannot be written at all.
    """
    msgs = sample.messages
    system: str | None = None
    start = 0
    if msgs and msgs[0].role == "system":
        system, start = msgs[0].content, 1
    pairs: list[tuple[str, str]] = []
    pending: str | None = None
    bad = False
    for m in msgs[start:]:
        role = m.role
        if role == "user":
            bad = bad or pending is not None
            pending = m.content
        elif role == "assistant":
            if m.tool_calls and not m.content:
                continue
            if pending is None:
                bad = True
                break
            pairs.append((pending, m.content))
            pending = None
        elif role != "tool":
            bad = True
    if bad or pending is not None or not pairs:
        roles = ", ".join(m.role for m in msgs) or "none"
        raise ConversionError(
            f"format '{target}' needs alternating user/assistant turns ending with an answer; "
            f"this sample has: {roles}.",
            sample_id=sample.id,
            hint="fix the turn order (sftforge validate shows it), or write a messages format such as openai",
        )
    if single_turn and len(pairs) > 1:
        loss.lose("multi-turn", sample, target)
        pairs = pairs[:1]
    return system, pairs


ROLE_SET = frozenset(ROLES)


def message_role(m: dict[str, Any], where: str) -> str:
    """The ``role`` of a message object, failing with the keys found or the valid roles."""
    role = m.get("role")
    if type(role) is not str or role not in ROLE_SET:
        if role is None:
            fail(
                f"'{where}' has no 'role' (keys found: {', '.join(m) or 'none'}).",
                field=f"{where}.role",
            )
        fail(
            f"unknown role {role!r} in '{where}.role' (valid: {', '.join(ROLES)}).",
            field=f"{where}.role",
        )
    return role
