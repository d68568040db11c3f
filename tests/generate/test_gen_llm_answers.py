"""Odd LLM answers (issue 17): a number or a list as ``content``, tool calls only, refusals in
English and Chinese go to the failed file with a reason, never a traceback or a good row; a
successful ``generate retry`` takes what it retried out of the failed file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fakeserver import FakeServer, Reply

from sftforge.cli.main import main
from sftforge.llm.refusal import RefusalDetector

N = 30


def _inputs(path: Path, n: int = N) -> Path:
    path.write_text(
        "".join(json.dumps({"instruction": f"task {i}"}) + "\n" for i in range(n)), encoding="utf-8"
    )
    return path


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _run(server: FakeServer, tmp_path: Path, *extra: str) -> tuple[int, Path, Path]:
    src, out = _inputs(tmp_path / "in.jsonl"), tmp_path / "out.jsonl"
    rc = main([
        "generate", "respond", str(src), str(out), "--base-url", server.base_url,
        "--model", "fake", "--cache", str(tmp_path / "c.sqlite"), "--no-progress",
        "--max-retries", "0", *extra,
    ])  # fmt: skip
    return rc, out, tmp_path / "out.jsonl.failed.jsonl"


# the odd answers of the bad-input corpus (tests/fixtures/bad/llm_replies.json)
REPLIES = json.loads(
    (Path(__file__).resolve().parents[1] / "fixtures" / "bad" / "llm_replies.json").read_text(
        encoding="utf-8"
    )
)
ODD = [(Reply(content=r["content"], tool_calls=r.get("tool_calls")), r["reason"]) for r in REPLIES]


@pytest.mark.parametrize(("reply", "reason"), ODD, ids=[r for _, r in ODD])
def test_odd_answers_go_to_the_failed_file_with_a_reason(
    server: FakeServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    reply: Reply,
    reason: str,
) -> None:
    server.add("task 7", reply)
    rc, out, failed = _run(server, tmp_path)
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    rows = _rows(out)
    assert len(rows) == N - 1 and all(
        r["messages"][-1]["content"].startswith("ANSWER") for r in rows
    )
    [rec] = _rows(failed)
    assert rec["input"]["messages"][0]["content"] == "task 7"
    assert reason in rec["reason"]


def test_a_list_of_text_parts_is_joined(server: FakeServer, tmp_path: Path) -> None:
    server.add(
        "task 3",
        Reply(content=[{"type": "text", "text": "Hello "}, {"type": "text", "text": "world"}]),
    )
    rc, out, failed = _run(server, tmp_path)
    assert rc == 0 and not failed.exists()
    assert _rows(out)[3]["messages"][-1]["content"] == "Hello world"


def test_every_answer_a_refusal_writes_nothing_as_good(server: FakeServer, tmp_path: Path) -> None:
    server.add("task", Reply(content="I'm sorry, but I can't help with that."))
    rc, out, failed = _run(server, tmp_path)
    assert rc == 2 and _rows(out) == [] and len(_rows(failed)) == N


def test_the_refusal_check_can_be_turned_off_and_extended(
    server: FakeServer, tmp_path: Path
) -> None:
    server.add("task 5", Reply(content="I'm sorry, but I can't help with that."))
    server.add("task 6", Reply(content="Policy says no."))
    rc, _, failed = _run(server, tmp_path)
    assert rc == 2 and len(_rows(failed)) == 1  # built-in only: "Policy says no." passes
    rc, out, failed = _run(server, tmp_path, "--no-refusal-check")
    assert rc == 0 and not failed.exists()
    assert "I'm sorry, but I can't help with that." in [
        r["messages"][-1]["content"] for r in _rows(out)
    ]
    from sftforge.generate import build_generator, generate
    from sftforge.llm import LLMConfig
    from sftforge.sample import Message, Sample

    items = [Sample(messages=[Message("user", f"task {i}")]) for i in (5, 6)]
    base = dict(base_url=server.base_url, model="fake", cache=None, max_retries=0)
    res = generate(build_generator("respond"), items, LLMConfig(**base, refusal_check=False))
    assert len(res.samples) == 2 and not res.failed
    res = generate(
        build_generator("respond"), items,
        LLMConfig(**base, refusal_check=False, refusal_phrases=["policy says no"]),
    )  # fmt: skip
    assert [f["reason"] for f in res.failed] == [
        "the model refused (refusal phrase 'policy says no'): 'Policy says no.'"
    ]


@pytest.mark.parametrize(
    "text",
    [
        "I'm sorry to hear that. Here is how to fix your bike: first, check the chain.",
        "Sorry, " + "but here is a long and helpful answer. " * 12,
        "I can help with that: tides come from the moon.",
        "抱歉让你久等了，答案是 42。",
    ],
)
def test_answers_that_apologise_and_help_are_not_refusals(text: str) -> None:
    assert RefusalDetector().match(text) is None


def test_retry_removes_what_it_retried_from_the_failed_file(
    server: FakeServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server.add("task 8", Reply(status=400, raw="bad request"))
    server.add("task 9", Reply(status=400, raw="bad request"))
    rc, _, failed = _run(server, tmp_path)
    assert rc == 2 and len(_rows(failed)) == 2
    server.rules = [("task 9", [Reply(status=400, raw="still bad")])]
    out2 = tmp_path / "retried.jsonl"
    assert main(["generate", "retry", str(failed), str(out2), "--no-progress"]) == 2
    assert [r["messages"][-1]["content"] for r in _rows(out2)] == ["ANSWER: task 8"]
    [left] = _rows(failed)  # only the item that failed again is left
    assert left["input"]["messages"][0]["content"] == "task 9"
    server.rules.clear()
    out3 = tmp_path / "retried2.jsonl"
    assert main(["generate", "retry", str(failed), str(out3), "--no-progress"]) == 0
    assert [r["messages"][-1]["content"] for r in _rows(out3)] == ["ANSWER: task 9"]
    assert not failed.exists()
    # a second retry of the same file finds nothing to retry: no duplicate rows anywhere
    capsys.readouterr()
    assert (
        main(["generate", "retry", str(failed), str(tmp_path / "again.jsonl"), "--no-progress"])
        == 1
    )
    assert "Traceback" not in capsys.readouterr().err
    assert not (tmp_path / "again.jsonl").exists()


def test_retry_into_another_failed_file_empties_the_one_it_read(
    server: FakeServer, tmp_path: Path
) -> None:
    server.add("task 4", Reply(status=400, raw="bad request"))
    _, _, failed = _run(server, tmp_path)
    server.rules.clear()
    other = tmp_path / "other.failed.jsonl"
    out2 = tmp_path / "r.jsonl"
    assert (
        main(["generate", "retry", str(failed), str(out2), "--failed", str(other), "--no-progress"])
        == 0
    )
    assert not failed.exists() and not other.exists() and len(_rows(out2)) == 1
