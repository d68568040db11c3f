"""Where `sftforge tokenize`'s CPU goes, stage by stage, in one thread (the floor analysis).

    PYTHONPATH=src python bench/tokenize_stages.py DATA.jsonl {lf,trl,native} [--limit N]

Runs the steps the command runs (read, set-up, render/plan, encode, build, write to Parquet) one
after the other in this thread, without the worker-thread overlap, and prints the process CPU
seconds (``time.process_time``: every thread, the Rust tokenizer's included) of each. ``lf`` is
``--profile llamafactory --template qwen --max-len 2048``, ``trl`` ``--profile trl --max-len 1024
--option assistant_only_loss=false``, ``native`` the tokenizer's own template. Data: a JSONL of
``messages`` (bench/tokenize_cli_bench.py writes the bench sets). Tokenizer: the bundled minimind.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict
from itertools import islice
from pathlib import Path
from typing import Any

T0 = time.process_time()

from _shared import SHARED_DATA  # noqa: E402

from sftforge._gc import gc_bulk  # noqa: E402
from sftforge.chat.inputs import read_samples  # noqa: E402
from sftforge.chat.output import ParquetRowWriter  # noqa: E402
from sftforge.chat.tokenize import TokenizedRow  # noqa: E402

MINIMIND = SHARED_DATA / "tokenizers" / "minimind"


class Clock:
    def __init__(self) -> None:
        self.spent: dict[str, float] = defaultdict(float)
        self.at = T0

    def tick(self, stage: str) -> None:
        now = time.process_time()
        self.spent[stage] += now - self.at
        self.at = now


def profile_stages(samples: list[Any], mode: str, out: Path, clock: Clock) -> None:
    from sftforge.chat.profiles import Encoded, get_profile, load_tokenizer
    from sftforge.chat.profiles.base import FIRST_CHUNK, MAX_CHUNK, _chunks

    tok = load_tokenizer(str(MINIMIND))
    if mode == "lf":
        prof = get_profile("llamafactory", tok, template="qwen", max_length=2048)
    else:
        prof = get_profile("trl", tok, max_length=1024, assistant_only_loss=False)
    enc, state = prof._text_encoder(), prof._stream_state()
    clock.tick("set-up (tokenizer, template)")
    with ParquetRowWriter(out) as writer, gc_bulk():
        for chunk in _chunks(samples, FIRST_CHUNK, MAX_CHUNK):
            plan, texts = prof._plan(chunk, state)
            clock.tick("render/plan")
            raw = enc.run(texts)
            clock.tick("encode (Rust, + piece joins)")
            rows = prof._build(chunk, plan, enc.ids(raw), state)
            clock.tick("build rows")
            for r in rows:
                if isinstance(r, Encoded):
                    writer.add(TokenizedRow(r.sample_id, r.input_ids, r.labels))
            clock.tick("write Parquet")
    clock.tick("write Parquet")


def native_stages(samples: list[Any], out: Path, clock: Clock) -> None:
    from sftforge.chat.encode import rust_backend
    from sftforge.chat.pieces import PieceEncoder
    from sftforge.chat.tokenize import (
        ChatTokenizer,
        TokenizeResult,
        _batches,
        _finish_batch,
        _render_batch,
    )

    chat = ChatTokenizer(MINIMIND)
    backend = rust_backend(chat.tokenizer)
    pieces = PieceEncoder(backend, backend.encode_batch)
    clock.tick("set-up (tokenizer, template)")
    with ParquetRowWriter(out) as writer, gc_bulk():
        result = TokenizeResult()
        for batch in _batches(samples, 1024):
            ready, failed = _render_batch(chat, batch, result)
            clock.tick("render/plan")
            encoded = pieces.encodings([r.text for _, r in ready])
            clock.tick("encode (Rust, + piece joins)")
            labelled = chat._labelled([r for _, r in ready], encoded)
            clock.tick("labels")
            _finish_batch(chat, ready, failed, labelled, result, True)
            clock.tick("build rows")
            for row in result.rows:
                writer.add(row)
            result.rows = []
            clock.tick("write Parquet")
    clock.tick("write Parquet")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data", type=Path)
    ap.add_argument("mode", choices=("lf", "trl", "native"))
    ap.add_argument("--limit", type=int)
    args = ap.parse_args()
    clock = Clock()
    clock.tick("imports")
    reader = read_samples(args.data, None, None, on_error="skip", rejects=[].append, label="x")
    samples = list(islice(reader, args.limit))
    clock.tick("read samples")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rows.parquet"
        if args.mode == "native":
            native_stages(samples, out, clock)
        else:
            profile_stages(samples, args.mode, out, clock)
    total = sum(clock.spent.values())
    print(f"{args.data.name} {args.mode}: {len(samples)} samples, {total:.2f} CPU s")
    for stage, secs in clock.spent.items():
        print(f"  {stage}: {secs:.2f} s ({100 * secs / total:.0f} %)")


if __name__ == "__main__":
    main()
