"""doc_qa folders (issue 17): a damaged PDF is left out with a reason instead of a traceback, and
a symlink that leads out of the folder (``passwd.txt -> /etc/passwd``) is never read, so it is
never sent to the LLM, unless --follow-symlinks / follow_symlinks allows it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fakeserver import FakeServer

from sftforge.cli.main import main
from sftforge.errors import InputError
from sftforge.generate.docparse import SkippedDocument, load_documents

SECRET = "root:x:0:0:SECRET-MARKER"
BAD_DOCS = Path(__file__).resolve().parents[1] / "fixtures" / "bad" / "docs"


def _folder(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "rivers.md").write_text("# Rivers\n\nRivers flow to the sea.", encoding="utf-8")
    shutil.copy(BAD_DOCS / "broken.pdf", docs / "broken.pdf")  # from the bad-input corpus
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "passwd").write_text(SECRET + "\n", encoding="utf-8")
    (docs / "passwd.txt").symlink_to(outside / "passwd")
    (docs / "inside.txt").symlink_to(docs / "rivers.md")  # stays inside: read
    return docs


def test_load_documents_skips_damage_and_escaping_symlinks(tmp_path: Path) -> None:
    docs = _folder(tmp_path)
    skipped: list[SkippedDocument] = []
    got = load_documents(docs, skipped=skipped)
    assert sorted(Path(d.meta["source"]).name for d in got) == ["inside.txt", "rivers.md"]
    assert all(SECRET not in d.text for d in got)
    reasons = {Path(s.path).name: s.reason for s in skipped}
    assert set(reasons) == {"broken.pdf", "passwd.txt"}
    assert "cannot read the PDF document (PdfStreamError" in reasons["broken.pdf"]
    assert (
        "outside the folder" in reasons["passwd.txt"]
        and "--follow-symlinks" in reasons["passwd.txt"]
    )
    # without a list to put them in, the first one raises one clear error
    with pytest.raises(InputError, match="cannot read the PDF document"):
        load_documents(docs)
    followed = load_documents(docs, follow_symlinks=True, skipped=[])
    assert any(SECRET in d.text for d in followed)


def test_generate_doc_qa_cli_rejects_them_with_reasons(
    server: FakeServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = _folder(tmp_path)
    out = tmp_path / "qa.jsonl"
    rc = main([
        "generate", "doc_qa", str(docs), str(out), "--base-url", server.base_url,
        "--model", "fake", "--cache", str(tmp_path / "c.sqlite"), "--no-progress",
    ])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    assert all(SECRET not in r.text for r in server.log)  # never sent to the LLM
    rejects = [
        json.loads(x) for x in (tmp_path / "qa.jsonl.rejects.jsonl").read_text().splitlines()
    ]
    by_doc = {Path(r["document"]).name: r["reason"] for r in rejects if "document" in r}
    assert set(by_doc) == {"broken.pdf", "passwd.txt"}
    assert err.count("skipped: ") == 2
    assert out.exists() and out.read_text().strip()  # the good documents were still used


def test_doc_qa_step_skips_them_and_counts(
    server: FakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SFTFORGE_CACHE", str(tmp_path / "cache"))
    from sftforge.pipeline import run_recipe

    docs = _folder(tmp_path)
    (tmp_path / "in.jsonl").write_text(
        json.dumps(
            {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
        )
        + "\n",
        encoding="utf-8",
    )
    llm = {"base_url": server.base_url, "model": "fake", "cache": str(tmp_path / "c.sqlite")}
    recipe = {
        "inputs": [str(tmp_path / "in.jsonl")],
        "steps": [{"doc_qa": {"documents": str(docs), "llm": llm}}],
        "outputs": {"train": "sftforge"},
    }
    res = run_recipe(recipe, tmp_path / "run", workers=1)
    assert all(SECRET not in r.text for r in server.log)
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    [step] = [s for s in report["steps"] if s["op"] == "doc_qa"]
    assert step["extra"]["documents_skipped"] == 2
    assert res.counts
