"""Read the chat template out of a GGUF model file's metadata, without the ``gguf`` package.

GGUF (llama.cpp's model format) starts with ``GGUF``, a version, the tensor and key-value counts,
then the key-value pairs: a length-prefixed UTF-8 key, a value type and the value. Only the
metadata is read (never the tensors); arrays such as the token list are skipped over. The chat
template is the string under ``tokenizer.chat_template`` (named extra ones under
``tokenizer.chat_template.<name>``).
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

from ...errors import TemplateError

__all__ = ["gguf_chat_templates"]

_SCALARS = {
    0: "B",
    1: "b",
    2: "H",
    3: "h",
    4: "I",
    5: "i",
    6: "f",
    7: "?",
    10: "Q",
    11: "q",
    12: "d",
}
_STRING, _ARRAY = 8, 9
_KEY = "tokenizer.chat_template"
_MAX_STRING = 64 * 1024 * 1024  # a length beyond this is a corrupt file, not a template


def _read(fh: BinaryIO, fmt: str, path: Path) -> tuple[int | float | bool, ...]:
    size = struct.calcsize("<" + fmt)
    data = fh.read(size)
    if len(data) != size:
        raise TemplateError(f"GGUF file '{path}' ends inside its metadata.", file=str(path))
    return struct.unpack("<" + fmt, data)


def _string(fh: BinaryIO, path: Path, wide: bool) -> bytes:
    (n,) = _read(fh, "Q" if wide else "I", path)
    if not isinstance(n, int) or n > _MAX_STRING:
        raise TemplateError(f"GGUF file '{path}' has a corrupt string length.", file=str(path))
    data = fh.read(n)
    if len(data) != n:
        raise TemplateError(f"GGUF file '{path}' ends inside its metadata.", file=str(path))
    return data


def _skip(fh: BinaryIO, vtype: int, path: Path, wide: bool) -> None:
    if vtype in _SCALARS:
        fh.seek(struct.calcsize("<" + _SCALARS[vtype]), 1)
    elif vtype == _STRING:
        _string(fh, path, wide)
    elif vtype == _ARRAY:
        (itype,) = _read(fh, "I", path)
        (count,) = _read(fh, "Q" if wide else "I", path)
        assert isinstance(itype, int) and isinstance(count, int)
        if itype in _SCALARS:
            fh.seek(struct.calcsize("<" + _SCALARS[itype]) * count, 1)
        else:
            for _ in range(count):
                _skip(fh, itype, path, wide)
    else:
        raise TemplateError(
            f"GGUF file '{path}' has an unknown value type {vtype}.", file=str(path)
        )


def gguf_chat_templates(path: str | Path) -> dict[str, str]:
    """``{"default": ..., "<name>": ...}``: the chat templates in a GGUF file's metadata."""
    path = Path(path)
    with open(path, "rb") as fh:
        if fh.read(4) != b"GGUF":
            raise TemplateError(f"'{path}' is not a GGUF file (no GGUF magic).", file=str(path))
        (version,) = _read(fh, "I", path)
        wide = version != 1  # version 1 used 32-bit counts and lengths
        _tensors, kv_count = _read(fh, "QQ" if wide else "II", path)
        found: dict[str, str] = {}
        for _ in range(int(kv_count)):
            key = _string(fh, path, wide).decode("utf-8", "replace")
            (vtype,) = _read(fh, "I", path)
            assert isinstance(vtype, int)
            if vtype == _STRING and (key == _KEY or key.startswith(_KEY + ".")):
                name = "default" if key == _KEY else key[len(_KEY) + 1 :]
                found[name] = _string(fh, path, wide).decode("utf-8")
            else:
                _skip(fh, vtype, path, wide)
    return found
