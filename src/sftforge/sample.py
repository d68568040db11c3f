"""The one record type: ``Sample`` (a conversation) and ``Document`` (plain text).

Every reader produces these and every writer consumes them; no operator looks at an external
format's field names. ``to_dict``/``from_dict`` give the canonical JSON form used for spill shards,
checkpoints and the native ``sftforge`` format: it is lossless and stable (keys in a fixed order,
``None`` fields left out) so the same Sample always serialises to the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import orjson
import xxhash

__all__ = [
    "ID_PENDING",
    "ROLES",
    "Document",
    "Media",
    "Message",
    "Role",
    "Sample",
    "ToolCall",
    "content_id",
    "deferred_ids",
    "id_pending",
    "stored_id",
    "validate_sample",
]

Role = Literal["system", "user", "assistant", "tool"]
ROLES: tuple[str, ...] = ("system", "user", "assistant", "tool")
MediaType = Literal["image", "video", "audio"]


@dataclass(slots=True)
class ToolCall:
    """A function call made by the assistant. ``arguments`` is always a dict, never a JSON string."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "arguments": self.arguments}
        if self.id is not None:
            out["id"] = self.id
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ToolCall:
        return cls(name=d["name"], arguments=dict(d.get("arguments") or {}), id=d.get("id"))


@dataclass(slots=True)
class Message:
    """One turn. ``train`` overrides the masking policy for this turn when not ``None``.

    ``extra`` holds the turn's keys that no field above stands for, as read (names and JSON
    values: a ShareGPT turn's ``weight``, a timestamp...), so writers can put them back; None when
    there are none. Like ``Sample.meta`` it is an annotation, not content: ``content_id`` and
    ``Sample.same_content`` leave it out, so two records that differ only in such keys are the
    same conversation (and ids stay what they were before these keys were kept).
    """

    role: Role
    content: str
    reasoning: str | None = None
    tool_calls: list[ToolCall] | None = None
    name: str | None = None
    tool_call_id: str | None = None
    train: bool | None = None
    extra: dict[str, Any] | None = None

    def is_plain(self) -> bool:
        """Role and content only: no reasoning, tool calls, name, tool call id, train flag or
        extra keys."""
        return (
            self.tool_calls is None
            and self.reasoning is None
            and self.name is None
            and self.tool_call_id is None
            and self.train is None
            and self.extra is None
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.reasoning is not None:
            out["reasoning"] = self.reasoning
        if self.tool_calls is not None:
            out["tool_calls"] = [tc.to_dict() for tc in self.tool_calls]
        if self.name is not None:
            out["name"] = self.name
        if self.tool_call_id is not None:
            out["tool_call_id"] = self.tool_call_id
        if self.train is not None:
            out["train"] = self.train
        if self.extra is not None:
            out["extra"] = self.extra
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Message:
        calls = d.get("tool_calls")
        return cls(
            role=cast(Role, d["role"]),
            content=d.get("content") or "",
            reasoning=d.get("reasoning"),
            tool_calls=[ToolCall.from_dict(c) for c in calls] if calls is not None else None,
            name=d.get("name"),
            tool_call_id=d.get("tool_call_id"),
            train=d.get("train"),
            extra=d.get("extra") or None,
        )


@dataclass(slots=True)
class Media:
    """An image, video or audio file referenced by the conversation (by path or URL)."""

    type: MediaType
    path: str

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "path": self.path}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Media:
        return cls(type=cast(MediaType, d["type"]), path=d["path"])


@dataclass(slots=True, init=False)
class Sample:
    """A conversation for supervised or preference fine-tuning.

    ``messages`` holds the system turn first (if any), then user/assistant/tool turns. For
    preference data the last assistant turn is ``chosen`` and ``rejected`` the losing answer.
    ``id`` is taken from the input when it has one, else ``content_id`` fills it in when the
    Sample is made, so the id always means "the content as read". Inside ``deferred_ids()`` (what
    ``convert`` uses) an empty id is instead computed on first access of ``sample.id``: the same
    value as long as the content was not changed in between.
    """

    messages: list[Message]
    id: str = ""
    tools: list[dict[str, Any]] | None = None
    rejected: Message | None = None
    label: bool | None = None
    media: list[Media] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __init__(
        self,
        messages: list[Message],
        id: str = "",
        tools: list[dict[str, Any]] | None = None,
        rejected: Message | None = None,
        label: bool | None = None,
        media: list[Media] | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        # written out (not the dataclass's): one Sample per record read, and the generated one
        # sets the id through the ``id`` property and then again in a ``__post_init__``
        self.messages = messages
        self.tools = tools
        self.rejected = rejected
        self.label = label
        self.media = media
        self.meta = {} if meta is None else meta
        if id:
            _set_id(self, id)
        elif _DEFER_IDS.get():
            # deferred: a marker in the slot, replaced by the content id on first read (_read_id)
            _set_id(self, _PENDING)
        else:
            _set_id(self, content_id(self))

    # -- convenience views used by operators -------------------------------------------------
    @property
    def system(self) -> str | None:
        return (
            self.messages[0].content
            if self.messages and self.messages[0].role == "system"
            else None
        )

    def turns(self, role: str) -> list[Message]:
        return [m for m in self.messages if m.role == role]

    @property
    def prompt_text(self) -> str:
        """All user turns joined: the view dedup and filters call 'prompt'."""
        return "\n".join(m.content for m in self.messages if m.role == "user")

    @property
    def answer_text(self) -> str:
        """All assistant turns joined: the view called 'answer'."""
        return "\n".join(m.content for m in self.messages if m.role == "assistant")

    # -- canonical serialisation ------------------------------------------------------------
    def to_dict(self, *, with_meta: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "messages": [m.to_dict() for m in self.messages]}
        if self.tools is not None:
            out["tools"] = self.tools
        if self.rejected is not None:
            out["rejected"] = self.rejected.to_dict()
        if self.label is not None:
            out["label"] = self.label
        if self.media is not None:
            out["media"] = [m.to_dict() for m in self.media]
        if with_meta and self.meta:
            out["meta"] = self.meta
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Sample:
        rejected = d.get("rejected")
        media = d.get("media")
        return cls(
            id=d.get("id") or "",
            messages=[Message.from_dict(m) for m in d["messages"]],
            tools=d.get("tools"),
            rejected=Message.from_dict(rejected) if rejected is not None else None,
            label=d.get("label"),
            media=[Media.from_dict(m) for m in media] if media is not None else None,
            meta=dict(d.get("meta") or {}),
        )

    def to_json(self) -> bytes:
        """``orjson.dumps(self.to_dict())``: put together from each text serialised once for a
        plain sample (``_plain_json``), the same bytes; through ``to_dict`` otherwise."""
        try:
            got = _plain_json(self)
        except (TypeError, orjson.JSONEncodeError):  # (a value orjson refuses: its own error)
            got = None
        return orjson.dumps(self.to_dict()) if got is None else got

    @classmethod
    def from_json(cls, data: bytes | str) -> Sample:
        return cls.from_dict(orjson.loads(data))

    def same_content(self, other: Sample) -> bool:
        """Equal conversation, tools, preference and media; ``id``, ``meta`` and the messages'
        ``extra`` keys are ignored (what ``content_id`` hashes)."""
        return _content(self) == _content(other)


_PENDING: Any = object()  # in the id slot of a Sample whose deferred content id is not computed
_ID_SLOT: Any = Sample.__dict__["id"]  # the slot's own descriptor
_get_id, _set_id = _ID_SLOT.__get__, _ID_SLOT.__set__


def _read_id(sample: Sample) -> Any:
    value = _get_id(sample)
    if value is _PENDING:
        value = content_id(sample)
        _set_id(sample, value)
    return value


# ``Sample.id``: the slot, except that a deferred content id is computed when first read
# (setting and deleting stay the slot's own C code; mypy still sees the field as a str)
setattr(Sample, "id", property(_read_id, _set_id, _ID_SLOT.__delete__))  # noqa: B010


@dataclass(slots=True)
class Document:
    """A plain text document: input for Q&A generation and continued pre-training."""

    text: str
    id: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.id:
            self.id = "d" + xxhash.xxh3_64_hexdigest(self.text.encode("utf-8"))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "text": self.text}
        if self.meta:
            out["meta"] = self.meta
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Document:
        return cls(text=d["text"], id=d.get("id") or "", meta=dict(d.get("meta") or {}))


_DEFER_IDS: ContextVar[bool] = ContextVar("sftforge_defer_ids", default=False)


@contextmanager
def deferred_ids() -> Iterator[None]:
    """Samples made inside this block without an id get their content id on first access of
    ``sample.id`` instead of at construction (it costs about a third of a parse).

    For code that only reads samples until it asks for their id (``convert``: parse, validate,
    dump); a sample changed before its id is read would get the id of the changed content.
    """
    token = _DEFER_IDS.set(True)
    try:
        yield
    finally:
        _DEFER_IDS.reset(token)


# ``sample.id`` as stored, without computing a deferred content id: the id, or ``ID_PENDING``
# while it is deferred. For writers on the per-record path of ``convert`` (``put_id``), where one
# more Python-level call per record shows; elsewhere ``id_pending`` says the same.
stored_id: Callable[[Sample], Any] = _get_id
ID_PENDING: Any = _PENDING


def id_pending(sample: Sample) -> bool:
    """True while ``sample.id`` is a deferred content id not computed yet (see ``deferred_ids``),
    so a writer that leaves content ids out need not compute one."""
    return _get_id(sample) is _PENDING


def _message_content(m: Message) -> dict[str, Any]:
    out = m.to_dict()
    if m.extra is not None:
        del out["extra"]
    return out


def _content(sample: Sample) -> dict[str, Any]:
    """What ``content_id`` hashes: everything but ``id``, ``meta`` and messages' ``extra``."""
    return {
        "messages": [_message_content(m) for m in sample.messages],
        "tools": sample.tools,
        "rejected": _message_content(sample.rejected) if sample.rejected else None,
        "label": sample.label,
        "media": [m.to_dict() for m in sample.media] if sample.media else None,
    }


# ``Sample.to_json`` of a plain sample (turns of a role and a text and nothing else: no tools,
# rejected answer, label, media, reasoning, tool calls, names, train flags or extra keys), put
# together from each text serialised once. ``to_dict`` builds a dict per turn and per sample, and
# a deferred content id builds a second, key-sorted copy for ``content_id`` and serialises every
# text twice: together about a quarter of a studio import's CPU. orjson writes no whitespace, so
# a value's bytes are the same alone or nested: the bytes are ``orjson.dumps(to_dict())`` and
# the id ``content_id`` (tests/test_sample_json.py checks both on every shape it builds).
_JSON_ROLES = {r: orjson.dumps(r) for r in ("system", "user", "assistant", "tool")}
# ``content_id``'s body of a plain sample: its keys sorted, the fields other than messages null
_HASH_HEAD = b'{"label":null,"media":null,"messages":['
_HASH_TAIL = b'],"rejected":null,"tools":null}'
_TURN = b'{"role":%b,"content":%b}'
_HASHED_TURN = b'{"content":%b,"role":%b}'
_QA_TURNS = b'{"role":"user","content":%b},{"role":"assistant","content":%b}'
_QA_HASHED = _HASH_HEAD + _HASHED_TURN % (b"%b", b'"user"') + b","
_QA_HASHED += _HASHED_TURN % (b"%b", b'"assistant"') + _HASH_TAIL


def _plain_turn(m: Message) -> bool:
    return (
        type(m.content) is str
        and m.reasoning is None
        and m.tool_calls is None
        and m.name is None
        and m.tool_call_id is None
        and m.train is None
        and m.extra is None
    )


def _plain_json(sample: Sample) -> bytes | None:
    """``sample.to_json()`` for a plain sample, else None (see above)."""
    if (
        sample.tools is not None
        or sample.rejected is not None
        or sample.label is not None
        or sample.media is not None
    ):
        return None
    dumps, msgs = orjson.dumps, sample.messages
    pending = _get_id(sample) is _PENDING
    if len(msgs) == 2:  # one question, one answer: most samples, in two formatting steps
        u, a = msgs
        if not (u.role == "user" and a.role == "assistant" and _plain_turn(u) and _plain_turn(a)):
            return None
        uj, aj = dumps(u.content), dumps(a.content)
        turns = _QA_TURNS % (uj, aj)
        body = _QA_HASHED % (uj, aj) if pending else b""
    else:
        parts: list[bytes] = []  # {"role":R,"content":C}, as Message.to_dict orders them
        hashed: list[bytes] = []  # {"content":C,"role":R}, sorted as content_id dumps them
        for m in msgs:
            role = _JSON_ROLES.get(m.role)
            if role is None or not _plain_turn(m):
                return None
            text = dumps(m.content)
            parts.append(_TURN % (role, text))
            hashed.append(_HASHED_TURN % (text, role))
        turns = b",".join(parts)
        body = _HASH_HEAD + b",".join(hashed) + _HASH_TAIL if pending else b""
    if body:  # the deferred content id, computed here and not stored (as ``content_id``)
        head = b'{"id":"s' + xxhash.xxh3_64_hexdigest(body).encode() + b'","messages":['
    else:
        head = b'{"id":' + dumps(sample.id) + b',"messages":['
    meta = sample.meta
    return head + turns + (b'],"meta":' + dumps(meta) + b"}" if meta else b"]}")


def content_id(sample: Sample) -> str:
    """A stable id from the content (messages, tools, rejected, label, media), never from meta
    or the messages' ``extra`` keys (annotations, like meta)."""
    body = _content(sample)
    return "s" + xxhash.xxh3_64_hexdigest(orjson.dumps(body, option=orjson.OPT_SORT_KEYS))


def validate_sample(sample: Sample, *, require_answer: bool = True) -> list[str]:
    """Problems with a Sample as readable sentences; empty when it is a valid conversation.

    Rules: roles are known; a system turn may only come first; the first non-system turn is a
    user turn; tool turns follow an assistant turn (or another tool turn); the last turn is not
    an empty user turn; and (``require_answer``) there is at least one assistant turn with content
    or calls. An empty user turn that something answers is legal (real chats have them: the user
    pressed enter to continue); ``sftforge lint`` warns about it.
    """
    msgs = sample.messages
    # the common shape first: [system,] user, assistant, user, assistant... with string contents,
    # non-blank user turns (and an answer); anything else gets the full check and its sentences.
    # (s.strip() is non-empty exactly when s and not s.isspace(), which copies nothing)
    n = len(msgs)
    if n == 2:
        u, a = msgs
        uc, ac = u.content, a.content
        if (
            u.role == "user"
            and a.role == "assistant"
            and type(uc) is str
            and type(ac) is str
            and uc
            and not uc.isspace()
            and (not require_answer or (ac and not ac.isspace()) or a.tool_calls)
        ):
            return []
    i = 1 if n and msgs[0].role == "system" and type(msgs[0].content) is str else 0
    if n > i and (n - i) % 2 == 0:
        answered = not require_answer
        while i < n:
            u, a = msgs[i], msgs[i + 1]
            uc, ac = u.content, a.content
            if (
                u.role != "user"
                or a.role != "assistant"
                or type(uc) is not str
                or type(ac) is not str
                or not uc
                or uc.isspace()
            ):
                break
            answered = answered or bool((ac and not ac.isspace()) or a.tool_calls)
            i += 2
        else:
            if answered:
                return []
    return _problems(sample, require_answer)


def _problems(sample: Sample, require_answer: bool) -> list[str]:
    """The full check behind ``validate_sample`` (which first tries the common shape)."""
    problems: list[str] = []
    if not sample.messages:
        return ["the conversation has no messages"]
    prev: str | None = None
    for i, msg in enumerate(sample.messages):
        where = f"message {i} ({msg.role})"
        if msg.role not in ROLES:
            problems.append(f"{where}: unknown role '{msg.role}' (valid: {', '.join(ROLES)})")
            continue
        if not isinstance(msg.content, str):
            problems.append(f"{where}: content is {type(msg.content).__name__}, not a string")
            continue
        if msg.role == "system" and i != 0:
            problems.append(f"{where}: a system turn may only come first")
        if msg.role == "user" and i == len(sample.messages) - 1 and not msg.content.strip():
            problems.append(f"{where}: empty user turn at the end (nothing answers it)")
        if msg.role == "assistant" and prev not in ("user", "tool"):
            problems.append(f"{where}: an assistant turn must follow a user or tool turn")
        if msg.role == "user" and prev not in (None, "system", "assistant", "tool"):
            problems.append(f"{where}: two user turns in a row")
        if msg.role == "tool" and prev not in ("assistant", "tool"):
            problems.append(f"{where}: a tool result must follow an assistant turn")
        prev = msg.role
    first = next((m for m in sample.messages if m.role != "system"), None)
    if first is None or first.role != "user":
        problems.append("the first turn after the system prompt must be a user turn")
    answers = [m for m in sample.messages if m.role == "assistant"]
    if require_answer and not any(m.content.strip() or m.tool_calls for m in answers):
        problems.append("there is no non-empty assistant answer")
    return problems
