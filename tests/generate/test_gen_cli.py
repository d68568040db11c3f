from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fakeserver import FakeServer, Reply

from sftforge.cli.main import main
from sftforge.llm import CompletionCache


def _inputs(path: Path, n: int) -> Path:
    path.write_text(
        "".join(json.dumps({"instruction": f"task {i}"}) + "\n" for i in range(n)), encoding="utf-8"
    )
    return path


def _args(server: FakeServer, tmp_path: Path, *extra: str) -> list[str]:
    return [
        "--base-url",
        server.base_url,
        "--model",
        "fake",
        "--cache",
        str(tmp_path / "c.sqlite"),
        "--no-progress",
        *extra,
    ]


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_cli_failures_then_retry(
    server: FakeServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, out = _inputs(tmp_path / "in.jsonl", 3), tmp_path / "out.jsonl"
    server.add("task 1", Reply(status=400, raw="bad request"))
    rc = main(
        ["generate", "respond", str(src), str(out), *_args(server, tmp_path, "--max-retries", "0")]
    )
    assert rc == 2
    assert [r["messages"][-1]["content"] for r in _rows(out)] == [
        "ANSWER: task 0",
        "ANSWER: task 2",
    ]
    failed = tmp_path / "out.jsonl.failed.jsonl"
    [rec] = _rows(failed)
    assert rec["task"] == "respond" and rec["reason"].startswith("HTTP 400")
    assert "respond: 3 items -> 2 samples, 1 failed" in capsys.readouterr().err
    server.rules.clear()
    out2 = tmp_path / "retried.jsonl"
    assert main(["generate", "retry", str(failed), str(out2), "--no-progress"]) == 0
    assert [r["messages"][-1]["content"] for r in _rows(out2)] == ["ANSWER: task 1"]
    assert server.count("task 0") == 1  # nothing else was sent again


def test_cli_dry_run_sends_nothing(
    server: FakeServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, out = _inputs(tmp_path / "in.jsonl", 4), tmp_path / "out.jsonl"
    prices = tmp_path / "prices.yaml"
    prices.write_text("fake: {input: 1.0, output: 2.0}\n", encoding="utf-8")
    rc = main(
        [
            "generate",
            "respond",
            str(src),
            str(out),
            *_args(server, tmp_path, "--dry-run", "--max-tokens", "100", "--prices", str(prices)),
        ]
    )
    assert rc == 0 and server.log == [] and not out.exists()
    err = capsys.readouterr().err
    # 4 calls of (ceil(6/4)=2 + 4 + 2 = 8) prompt tokens and 100 output tokens each
    assert "about 4 calls, 32 prompt + 400 output tokens; cost 0.000832" in err


def test_cli_budget_stops_and_rerun_resumes(
    server: FakeServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, out = _inputs(tmp_path / "in.jsonl", 6), tmp_path / "out.jsonl"
    base = _args(server, tmp_path, "--concurrency", "1", "--max-tokens", "5")
    rc = main(["generate", "respond", str(src), str(out), *base, "--max-tokens-budget", "45"])
    assert rc == 2 and len(_rows(out)) == 3 and len(server.log) == 3
    failed = _rows(tmp_path / "out.jsonl.failed.jsonl")
    assert [f["reason"][:31] for f in failed] == ["not run: token budget of 45 rea"] * 3
    assert "stopped early" in capsys.readouterr().err
    assert main(["generate", "respond", str(src), str(out), *base]) == 0
    assert len(_rows(out)) == 6 and len(server.log) == 6  # only the 3 unfinished were sent
    assert not (tmp_path / "out.jsonl.failed.jsonl").exists()


def test_cli_unknown_task_is_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["generate", "nope", str(tmp_path / "a"), str(tmp_path / "b")]) == 1
    assert capsys.readouterr().err == (
        "error: unknown task 'nope'. Fix: use one of: backtranslate, doc_qa, evol_instruct, judge, judge_pair, paraphrase, respond, self_instruct, translate, retry\n"
    )


def test_cli_bad_input_line_names_file_and_line(
    server: FakeServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text('{"instruction": "ok"}\n{oops\n', encoding="utf-8")
    assert (
        main(["generate", "respond", str(src), str(tmp_path / "o.jsonl"), *_args(server, tmp_path)])
        == 1
    )
    # the one reader's message (sftforge.io): file:line:column, the problem and the fix
    assert f"error: {src}:2:2: invalid JSON: " in capsys.readouterr().err


def test_killed_job_resumes_without_repeating_finished_items(
    server: FakeServer, tmp_path: Path
) -> None:
    n = 12
    src, out = _inputs(tmp_path / "in.jsonl", n), tmp_path / "out.jsonl"
    server.default = lambda body: Reply(f"ANSWER: {body['messages'][-1]['content']}", delay=0.15)
    cmd = [
        sys.executable,
        "-c",
        "import sys; from sftforge.cli.main import main; sys.exit(main(sys.argv[1:]))",
        "generate",
        "respond",
        str(src),
        str(out),
        *_args(server, tmp_path, "--concurrency", "2"),
    ]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(server.log) < 5 and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    first = len(server.log)
    assert 5 <= first < n and not out.exists()
    finished = len(CompletionCache(tmp_path / "c.sqlite"))  # committed before the kill
    assert first - 2 <= finished <= first
    done = subprocess.run(cmd, env=env, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    assert [r["messages"][-1]["content"] for r in _rows(out)] == [
        f"ANSWER: task {i}" for i in range(n)
    ]
    asked = [r.body["messages"][-1]["content"] for r in server.log]
    per_item = [asked.count(f"task {i}") for i in range(n)]
    # only calls in flight at the kill (at most the concurrency, 2) are sent twice
    assert sum(per_item) - n <= 2 and all(c in (1, 2) for c in per_item)
    assert len(server.log) - first == n - finished  # the rerun sent only what was not finished


def test_cli_reads_and_writes_other_formats(server: FakeServer, tmp_path: Path) -> None:
    src = tmp_path / "in.json"
    convo = {
        "conversations": [{"from": "human", "value": "你好"}, {"from": "gpt", "value": "BAD 你好"}]
    }
    src.write_text(json.dumps([convo], ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    args = [
        "generate",
        "judge",
        str(src),
        str(out),
        *_args(server, tmp_path, "--from", "sharegpt", "--to", "sftforge"),
    ]
    assert main(args) == 0
    [row] = _rows(out)
    assert (
        row["messages"][-1]["content"] == "BAD 你好" and row["meta"]["stats"]["judge_overall"] == 2
    )


def test_cli_set_parses_yaml_values(server: FakeServer, tmp_path: Path) -> None:
    src, out = _inputs(tmp_path / "in.jsonl", 1), tmp_path / "out.jsonl"
    extra = ["--set", "methods=[deepen]", "--set", "rounds=2", "--set", "check_equal=false"]
    assert main(["generate", "evol", str(src), str(out), *_args(server, tmp_path, *extra)]) == 0
    assert [(r["meta"]["evol_round"], r["meta"]["evol_method"]) for r in _rows(out)] == [
        (1, "deepen"),
        (2, "deepen"),
    ]
    assert not any("Are they equal" in r.text for r in server.log)


def test_cli_bad_set_is_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _inputs(tmp_path / "in.jsonl", 1)
    assert main(["generate", "judge", str(src), str(tmp_path / "o"), "--set", "scale"]) == 1
    assert capsys.readouterr().err == "error: --set expects KEY=VALUE, got 'scale'\n"
