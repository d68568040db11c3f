"""The ``generate`` hint to retry the failed items is a command quoted for the shell."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from fakeserver import FakeServer, Reply

from sftforge.cli.main import main


def test_the_retry_hint_is_quoted_for_the_shell(
    server: FakeServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.jsonl").write_text(
        "".join(json.dumps({"instruction": f"task {i}"}) + "\n" for i in range(2)), encoding="utf-8"
    )
    server.add("task 1", Reply(status=400, raw="bad request"))
    out = "o_$(touch PWNED);x 中.jsonl"
    args = ["--base-url", server.base_url, "--model", "fake", "--cache", "c.sqlite"]
    rc = main(
        ["generate", "respond", "in.jsonl", out, *args, "--no-progress", "--max-retries", "0"]
    )
    assert rc == 2
    err = capsys.readouterr().err
    hint = next(ln for ln in err.splitlines() if ln.startswith("failed items: "))
    command = hint.split("(run: ", 1)[1].removesuffix(" OUT)")
    assert command.startswith("sftforge generate retry ")
    shell = f'prog() {{ for a; do printf "%s\\n" "$a"; done; }}; prog {command.removeprefix("sftforge ")}'
    res = subprocess.run(["sh", "-c", shell], cwd=tmp_path, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert not (tmp_path / "PWNED").exists()
    assert res.stdout.splitlines() == ["generate", "retry", f"{out}.failed.jsonl"]
    assert (tmp_path / f"{out}.failed.jsonl").exists()
