"""A batch of samples' lossless JSON (``Sample.to_json()``) with their content ids, made fast.

``Sample.to_json`` builds a dict per turn and per sample, and a sample whose id is a deferred
content id builds a second, key-sorted copy of it for ``content_id`` and serialises every text
twice: together about a quarter of a studio import's CPU. For the common sample (turns of a role
and a text, nothing else: no tools, rejected answer, label, media, reasoning, tool calls, names,
train flags or extra keys) both byte strings are put together here from each text serialised
once. orjson writes no whitespace, so a value's bytes are the same alone or nested: the result is
byte for byte ``Sample.to_json()`` and the id ``content_id(sample)``
(``tests/studio/test_sample_bytes.py`` checks both on every shape it builds). Any other sample,
or a value orjson would refuse, goes through ``Sample.to_json`` itself, errors included.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson
import xxhash

from ..sample import Message, Sample, id_pending

__all__ = ["samples_json"]

# the roles a plain turn may have, as orjson writes them (another role: the slow path)
_ROLES = {r: orjson.dumps(r) for r in ("system", "user", "assistant", "tool")}
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


def _plain(sample: Sample) -> bytes | None:
    """``sample.to_json()`` for a plain sample, else None."""
    if (
        sample.tools is not None
        or sample.rejected is not None
        or sample.label is not None
        or sample.media is not None
    ):
        return None
    dumps, msgs = orjson.dumps, sample.messages
    if len(msgs) == 2:  # one question, one answer: most samples, in two formatting steps
        u, a = msgs
        if not (u.role == "user" and a.role == "assistant" and _plain_turn(u) and _plain_turn(a)):
            return None
        uj, aj = dumps(u.content), dumps(a.content)
        turns = _QA_TURNS % (uj, aj)
        body = _QA_HASHED % (uj, aj) if id_pending(sample) else b""
    else:
        roles = _ROLES
        parts: list[bytes] = []  # {"role":R,"content":C}, as Message.to_dict orders them
        hashed: list[bytes] = []  # {"content":C,"role":R}, sorted as content_id dumps them
        for m in msgs:
            role = roles.get(m.role)
            if role is None or not _plain_turn(m):
                return None
            text = dumps(m.content)
            parts.append(_TURN % (role, text))
            hashed.append(_HASHED_TURN % (text, role))
        turns = b",".join(parts)
        body = _HASH_HEAD + b",".join(hashed) + _HASH_TAIL if id_pending(sample) else b""
    if body:
        head = b'{"id":"s' + xxhash.xxh3_64_hexdigest(body).encode() + b'","messages":['
    else:
        head = b'{"id":' + dumps(sample.id) + b',"messages":['
    meta = sample.meta
    return head + turns + (b'],"meta":' + dumps(meta) + b"}" if meta else b"]}")


def samples_json(samples: Sequence[Sample]) -> list[bytes]:
    """``[s.to_json() for s in samples]``, fast for plain samples (see the module's docstring)."""
    out: list[bytes] = []
    put = out.append
    for s in samples:
        try:
            got = _plain(s)
        except (TypeError, orjson.JSONEncodeError):  # (a value orjson refuses: its own error)
            got = None
        put(s.to_json() if got is None else got)
    return out
