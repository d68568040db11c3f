"""The pipeline benchmark recipe written for datatrove 0.10 (run with datatrove's own venv).

usage: python pipeline_datatrove.py INPUT_DIR WORK_DIR TASKS

Steps, as close to the sftforge recipe as datatrove allows: HTML tags/entities stripped,
whitespace collapsed, unicode NFKC; length 10..10000 characters; special-character ratio <= 0.25;
word 10-gram repetition ratio <= 0.5; exact dedup (xxhash of the text); MinHash dedup with 5-word
shingles, 9 bands x 10 rows (the LSH threshold is about 0.8). MinHash needs a word tokenizer: a
plain whitespace one is given (datatrove's default would need spaCy/nltk models).
"""

from __future__ import annotations

import html
import re
import sys
import unicodedata
from collections import Counter

from datatrove.data import Document
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.dedup import MinhashDedupCluster, MinhashDedupFilter, MinhashDedupSignature
from datatrove.pipeline.dedup.exact_dedup import (
    ExactDedupConfig,
    ExactDedupFilter,
    ExactDedupSignature,
    ExactFindDedups,
)
from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupBuckets
from datatrove.pipeline.filters import LambdaFilter
from datatrove.pipeline.formatters.base import BaseFormatter
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter
from datatrove.utils.word_tokenizers import WordTokenizer

_TAG = re.compile(r"<[^>]+>")
_WS = re.compile(r"[ \t\u00a0\u3000]+")
_SPECIAL = re.compile(r"[^\w\s]|_")
_WORD = re.compile(r"\w+")


class Clean(BaseFormatter):
    name = "clean html+whitespace+unicode"

    def format(self, text: str) -> str:
        text = html.unescape(_TAG.sub("", text))
        text = unicodedata.normalize("NFKC", text)
        return "\n".join(_WS.sub(" ", line).strip() for line in text.split("\n")).strip()


def special_ok(doc: Document) -> bool:
    t = doc.text
    return (len(_SPECIAL.findall(t)) / len(t) if t else 0.0) <= 0.25


def word_rep_ok(doc: Document) -> bool:
    toks = [w.lower() for w in _WORD.findall(doc.text)]
    n = 10
    if len(toks) < n:
        return True
    grams = Counter(tuple(toks[i : i + n]) for i in range(len(toks) - n + 1))
    return sum(c for c in grams.values() if c > 1) / (len(toks) - n + 1) <= 0.5


class SpaceTokenizer(WordTokenizer):
    def word_tokenize(self, text: str) -> list[str]:
        return text.split()

    def sent_tokenize(self, text: str) -> list[str]:
        return text.split("\n")

    def span_tokenize(self, text: str) -> list[tuple[int, int]]:
        return [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]


def text_of(doc: Document) -> str:
    return doc.text


def main(inp: str, work: str, tasks: int) -> None:
    mh = MinhashConfig(n_grams=5, num_buckets=9, hashes_per_bucket=10)
    ex = ExactDedupConfig(content_getter=text_of)
    tok = SpaceTokenizer()

    def run(pipeline: list, n: int, name: str) -> None:
        LocalPipelineExecutor(
            pipeline=pipeline, tasks=n, workers=tasks, logging_dir=f"{work}/logs/{name}"
        ).run()

    run(
        [
            JsonlReader(inp, compression=None),
            Clean(),
            LambdaFilter(lambda d: 10 <= len(d.text) <= 10000),
            LambdaFilter(special_ok),
            LambdaFilter(word_rep_ok),
            JsonlWriter(f"{work}/filtered", compression=None),
        ],
        tasks,
        "filter",
    )
    run(
        [
            JsonlReader(f"{work}/filtered", compression=None),
            ExactDedupSignature(f"{work}/ex_sigs", ex),
        ],
        tasks,
        "ex1",
    )
    run([ExactFindDedups(f"{work}/ex_sigs", f"{work}/ex_dups", ex)], 1, "ex2")
    run(
        [
            JsonlReader(f"{work}/filtered", compression=None),
            ExactDedupFilter(f"{work}/ex_dups", ex),
            JsonlWriter(f"{work}/exact", compression=None),
        ],
        tasks,
        "ex3",
    )
    run(
        [
            JsonlReader(f"{work}/exact", compression=None),
            MinhashDedupSignature(f"{work}/mh_sigs", mh, language=tok),
        ],
        tasks,
        "mh1",
    )
    run(
        [MinhashDedupBuckets(f"{work}/mh_sigs", f"{work}/mh_buckets", config=mh)],
        mh.num_buckets,
        "mh2",
    )
    run([MinhashDedupCluster(f"{work}/mh_buckets", f"{work}/mh_ids", config=mh)], 1, "mh3")
    run(
        [
            JsonlReader(f"{work}/exact", compression=None),
            MinhashDedupFilter(f"{work}/mh_ids"),
            JsonlWriter(f"{work}/final", compression=None),
        ],
        tasks,
        "mh4",
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
