"""report.json, report.html (self-contained) and recipe.lock.yaml."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
import xxhash
import yaml

from sftforge import __version__
from sftforge.pipeline import run_recipe
from sftforge.pipeline.report import histogram


def test_report_json_sections(write_recipe: Callable[..., Path], tmp_path: Path) -> None:
    res = run_recipe(write_recipe(), tmp_path / "run", workers=2)
    report = orjson.loads(res.report_json.read_bytes())
    assert [(s["op"], s["seen"], s["kept"], s["dropped"]) for s in report["steps"]] == [
        ("t_strip", 60, 60, {}),
        ("t_minlen", 60, 51, {"too_short": 9}),
        ("t_dedup", 51, 11, {"duplicate": 40}),
        ("t_strip", 11, 11, {}),
    ]
    assert all(s["seconds"] >= 0 and s["peak_rss_mb"] > 0 for s in report["steps"])
    assert report["metrics"]["answer_chars"]["n"] == 60
    assert report["metrics"]["answer_chars"]["min"] == 0
    assert report["lengths"]["before"]["user"]["total"] == 60
    assert report["lengths"]["after"]["assistant"]["total"] == 11
    # 11 distinct answers among 51 kept: clusters of 5 or 6 samples (kept one included)
    assert report["dedup_clusters"] == {"3. t_dedup": {"4": 5, "5": 5, "6": 1}}
    examples = {k.split(":")[0]: len(v) for k, v in report["reject_examples"].items()}
    assert examples == {"t_minlen": 3, "read": 1, "t_dedup": 3}
    assert next(iter(report["reject_examples"])) == "t_minlen: too_short"


def test_report_html_is_self_contained(write_recipe: Callable[..., Path], tmp_path: Path) -> None:
    res = run_recipe(write_recipe(), tmp_path / "run", workers=1)
    html = res.report_html.read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>") and html.rstrip().endswith("</html>")
    for banned in ("http://", "https://", "//cdn", "<script", "<link", "url(", "@import", "<img"):
        assert banned not in html
    assert "t_minlen" in html and "too_short" in html and "<svg" in html
    assert "问题" in html  # CJK examples survive escaping


def test_report_escapes_data(write_recipe: Callable[..., Path], tmp_path: Path) -> None:
    raw = tmp_path / "raw.jsonl"
    raw.write_bytes(
        b'{"messages":[{"role":"user","content":"<script>alert(1)</script>"},'
        b'{"role":"assistant","content":""}]}\n'
        # (a run whose input keeps no record fails: issue 16)
        b'{"messages":[{"role":"user","content":"q"},{"role":"assistant","content":"a"}]}\n'
    )
    res = run_recipe(write_recipe([{"t_minlen": {}}]), tmp_path / "run")
    html = res.report_html.read_text(encoding="utf-8")
    assert "<script" not in html and "&lt;script&gt;" in html


def test_lock_file(write_recipe: Callable[..., Path], tmp_path: Path, raw_file: Path) -> None:
    res = run_recipe(write_recipe(seed=13), tmp_path / "run")
    lock = yaml.safe_load(res.lock.read_text(encoding="utf-8"))
    assert lock["seed"] == 13
    assert lock["inputs"] == [
        {
            "path": "raw.jsonl",
            "name": "raw",
            "format": None,
            "on_error": "skip",
            "xxh3_64": xxhash.xxh3_64_hexdigest(raw_file.read_bytes()),
        }
    ]
    assert lock["recipe"]["steps"] == [
        {"t_strip": {"targets": "all", "suffix": ""}},
        {"t_minlen": {"targets": "all", "min_chars": 1}},
        {"t_dedup": {}},
        {"t_strip": {"targets": "assistant", "suffix": "!"}},
    ]
    assert lock["versions"]["sftforge"] == __version__
    assert re.fullmatch(r"3\.\d+\.\d+", lock["versions"]["python"])
    assert lock["versions"]["orjson"] and lock["versions"]["xxhash"]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([1, 1, 2, 5], {"n": 4, "min": 1, "max": 5, "p50": 2, "counts": [2, 1, 0, 1]}),
        ([3, 3], {"n": 2, "min": 3, "max": 3, "p50": 3, "counts": [2, 0, 0, 0]}),
        (["en", "zh", "en"], {"n": 3, "top": [["en", 2], ["zh", 1]]}),
    ],
)
def test_histogram(values: list[object], expected: dict[str, object]) -> None:
    h = histogram(values, bins=4)
    assert {k: h[k] for k in expected} == expected


@pytest.mark.parametrize(
    "values",
    [
        [3, 4.5, 7],  # plain numbers: the column-wise path
        [3, None, 7],  # a sample without the metric
        [True, False, 2],  # booleans count as 0/1
        [{"lang": "en", "score": 0.9}, {"lang": "zh", "score": 0.5}, 1],  # parts
        [[1], "x", 2],  # a value no series takes
    ],
)
def test_stage_metrics_collect_every_series(values: list[object]) -> None:
    """The per-chunk metric series the report's histograms come from, in sample order."""
    import sftforge.ops.filters  # noqa: F401 - registers the filters
    from sftforge.ops.base import Reject
    from sftforge.pipeline.worker import StageOps, _metrics
    from sftforge.sample import Message, Sample

    stage = StageOps(0, [(0, "length_filter", {"min": 1}), (1, "special_char_filter", {})])
    stage.build()
    keys = [op.metric_key() for op in stage.ops]
    samples = []
    for i, v in enumerate(values):
        stats = {keys[0]: v, keys[1]: i} if v is not None else {keys[1]: i}
        samples.append(
            Sample([Message("user", "q"), Message("assistant", "a")], meta={"stats": stats})
        )
    rejected = Reject(samples[-1], "length_filter", "too short", 0)
    got = _metrics(stage, samples[:-1], [rejected])
    expect: dict[str, list[object]] = {}
    for s in samples:
        for k in keys:
            v = s.meta["stats"].get(k)
            parts = {f"{k}.{p}": x for p, x in v.items()} if isinstance(v, dict) else {k: v}
            for name, x in parts.items():
                if isinstance(x, (bool, int, float, str)):
                    expect.setdefault(name, []).append(int(x) if isinstance(x, bool) else x)
    assert got == expect
    assert list(got) == list(expect)


@pytest.mark.parametrize("cap", [0, 1, 2, 3, 5, 16])
def test_sampled_keeps_every_kth_value_whatever_the_batches(cap: int) -> None:
    """``Sampled.extend`` takes slices; it must equal the one-value-at-a-time definition."""
    import random

    from sftforge.pipeline.plan import Sampled

    def reference(values: list[int]) -> tuple[list[int], int]:
        kept: list[int] = []
        stride = 1
        for seen, v in enumerate(values):
            if seen % stride == 0:
                kept.append(v)
                if len(kept) >= cap:
                    kept, stride = kept[::2], stride * 2
        return kept, stride

    rng = random.Random(cap)
    for _ in range(200):
        values = list(range(rng.randint(0, 300)))
        s = Sampled(cap)
        pos = 0
        while pos < len(values):
            step = rng.randint(0, 40)
            s.extend(values[pos : pos + step])
            pos += step
        assert (s.values, s.stride, s.seen) == (*reference(values), len(values))
