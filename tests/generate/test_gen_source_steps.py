"""doc_qa, self_instruct and backtranslate as recipe steps: inputs pass through, generated
samples are added (and accounted as added), failed items go to the failed file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from fakeserver import FakeServer, Reply

from sftforge.errors import RecipeError
from sftforge.pipeline import load_recipe, run_recipe
from sftforge.sample import Message, Sample


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SFTFORGE_CACHE", str(tmp_path / "cache"))


INPUTS = [
    Sample([Message("user", "q1"), Message("assistant", "a1")]),
    Sample([Message("user", "q2"), Message("assistant", "a2")]),
    Sample([Message("user", "问题三"), Message("assistant", "答案三")]),
]


def _llm(server: FakeServer, tmp_path: Path) -> dict[str, Any]:
    cache = str(tmp_path / "llm.sqlite")
    return {"base_url": server.base_url, "model": "fake", "cache": cache, "max_retries": 0}


def _write_recipe(proj: Path, steps: list[dict[str, Any]]) -> Path:
    proj.mkdir(parents=True, exist_ok=True)
    (proj / "in.jsonl").write_bytes(b"".join(s.to_json() + b"\n" for s in INPUTS))
    recipe = {
        "inputs": [{"path": "in.jsonl", "name": "raw"}],
        "steps": steps,
        "outputs": {"train": {"format": "sftforge", "path": "train.jsonl"}},
    }
    path = proj / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, allow_unicode=True), encoding="utf-8")
    return path


def _rows(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def test_doc_qa_and_self_instruct_steps(
    server: FakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.add("doomed", Reply(status=400, raw="no"))
    proj = tmp_path / "proj"
    docs = proj / "docs"
    docs.mkdir(parents=True)
    (docs / "install.md").write_text(
        "# Install\n\nRun the installer and follow the steps on the screen.", encoding="utf-8"
    )
    (docs / "usage.md").write_text(
        "# Usage\n\nOpen the app. Pick a file. Press start and wait until it finishes.",
        encoding="utf-8",
    )
    (docs / "broken.md").write_text("# Broken\n\nThis page is doomed to fail.", encoding="utf-8")
    seeds = [{"instruction": "Give three tips for staying healthy.", "instances": []}]
    (proj / "seed_tasks.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in seeds), encoding="utf-8"
    )
    failed = tmp_path / "failed.jsonl"
    llm = _llm(server, tmp_path)
    steps = [
        {"doc_qa": {"documents": "docs", "per_tokens": 5, "llm": llm, "failed": str(failed)}},
        {"self_instruct": {"seeds": "seed_tasks.jsonl", "num_instructions": 2, "llm": llm}},
    ]
    path = _write_recipe(proj, steps)
    monkeypatch.chdir(tmp_path)  # paths resolve against the recipe's folder, not the cwd
    res = run_recipe(path, tmp_path / "out", workers=1)

    rows = _rows(tmp_path / "out" / "train.jsonl")
    assert [r["messages"] for r in rows[:3]] == [s.to_dict()["messages"] for s in INPUTS]
    assert all(r["meta"]["source"] == "raw" for r in rows[:3])
    qa = [r for r in rows if r["meta"].get("generator") == "doc_qa"]
    si = [r for r in rows if r["meta"].get("generator") == "self_instruct"]
    assert rows[3:] == qa + si  # inputs first, then each step's additions in order
    # two documents worked (one question each is unanswerable and dropped), one failed
    assert sorted({Path(r["meta"]["source"]).name for r in qa}) == ["install.md", "usage.md"]
    for r in qa:
        assert r["meta"]["answer_from"] == "llm"
        assert r["meta"]["human_verified"] is False
        assert r["meta"]["doc_id"] and r["meta"]["chunk_id"]
        assert r["messages"][1]["content"] == f"Answer to {r['messages'][0]['content']}"
    assert len(si) == 2
    assert all(r["meta"]["answer_from"] == "llm" for r in si)

    rejects = _rows(tmp_path / "out" / "rejects.jsonl")
    assert {r["op"] for r in rejects} == {"doc_qa", "self_instruct"}
    assert all(r["sample"]["meta"]["extra"] in ("doc_qa", "self_instruct") for r in rejects)
    assert "the chunk does not answer the question" in {r["reason"] for r in rejects}

    [fail] = _rows(failed)
    assert fail["task"] == "doc_qa"
    assert "doomed" in fail["input"]["text"]
    assert fail["reason"].startswith("HTTP 400")

    c = res.counts
    generated = len(qa) + len(si) + len(rejects)
    assert c["per_input"] == {"raw": {"read": 3, "kept": 3, "rejected": 0}}
    assert (c["read"], c["added"]) == (3, generated)
    assert c["kept"] == 3 + len(qa) + len(si)
    assert c["rejected"] == len(rejects)
    report = orjson.loads((tmp_path / "out" / "report.json").read_bytes())
    steps_rep = {s["op"]: s for s in report["steps"]}
    assert steps_rep["doc_qa"]["extra"]["generated"] == len(qa) + sum(
        r["op"] == "doc_qa" for r in rejects
    )
    assert steps_rep["doc_qa"]["extra"]["llm_failed"] == 1


def test_backtranslate_step(server: FakeServer, tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    (proj / "docs").mkdir(parents=True)
    docs = [
        {"text": "A good doc about rivers and how they flow."},
        {"text": "A weak passage with little to say."},
    ]
    (proj / "docs" / "passages.jsonl").write_text(
        "".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8"
    )
    step = {"backtranslate": {"documents": "docs/passages.jsonl", "llm": _llm(server, tmp_path)}}
    res = run_recipe(_write_recipe(proj, [step]), tmp_path / "out", workers=1)
    rows = _rows(tmp_path / "out" / "train.jsonl")
    assert [r["messages"][-1]["content"] for r in rows] == [
        "a1",
        "a2",
        "答案三",
        "A good doc about rivers and how they flow.",
    ]
    assert rows[-1]["meta"]["answer_from"] == "document"
    [rej] = _rows(tmp_path / "out" / "rejects.jsonl")
    assert rej["reason"] == "curation score 2 below 4"
    assert (res.counts["read"], res.counts["kept"], res.counts["added"]) == (3, 4, 2)


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ({"doc_qa": {}}, "'documents' is required"),
        ({"self_instruct": {}}, "'seeds' is required"),
        ({"doc_qa": {"documents": "nowhere"}}, "documents 'nowhere' does not exist"),
        ({"self_instruct": {"seeds": "none.jsonl"}}, "seeds 'none.jsonl' does not exist"),
    ],
)
def test_source_option_checked_before_any_work(
    tmp_path: Path, step: dict[str, Any], message: str
) -> None:
    path = _write_recipe(tmp_path, [step])
    with pytest.raises(RecipeError, match=message) as info:
        load_recipe(path)
    assert info.value.field is not None and info.value.field.startswith("steps[1]")


@pytest.mark.parametrize("workers", [1, 2])
def test_docs_recipe_runs(server: FakeServer, tmp_path: Path, workers: int) -> None:
    """The source-steps recipe of docs/generate.md, pointed at the fake server."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "generate.md").read_text("utf-8")
    [block] = [b.split("```", 1)[0] for b in doc.split("```yaml\n")[1:] if "seeds:" in b]
    recipe = yaml.safe_load(block)
    for step in recipe["steps"]:
        ((name, opts),) = step.items()
        opts["llm"] = _llm(server, tmp_path)
        opts["failed"] = str(tmp_path / f"{name}.failed.jsonl")
        if name == "self_instruct":
            opts["num_instructions"] = 2
    proj = tmp_path / "proj"
    (proj / "manuals").mkdir(parents=True)
    (proj / "manuals" / "a.md").write_text("# Install\n\nRun the installer.", encoding="utf-8")
    seed = {"instruction": "Give three tips for staying healthy."}
    (proj / "seed_tasks.jsonl").write_text(json.dumps(seed) + "\n", encoding="utf-8")
    (proj / "chats.jsonl").write_bytes(INPUTS[0].to_json() + b"\n")
    path = proj / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    res = run_recipe(path, tmp_path / "out", workers=workers)
    rows = _rows(tmp_path / "out" / "train.jsonl")
    assert rows[0]["messages"] == INPUTS[0].to_dict()["messages"]  # the input passed through
    assert rows[1]["messages"][1]["reasoning"] == "because the passage says so"
    assert res.counts["per_input"] == {"chats": {"read": 1, "kept": 1, "rejected": 0}}
    assert res.counts["kept"] == len(rows) == 1 + 1 + 2  # one doc_qa answer, two instructions
    assert not (tmp_path / "doc_qa.failed.jsonl").exists()
    sent = len(server.log)
    run_recipe(path, tmp_path / "again", workers=workers)
    assert len(server.log) == sent  # a rerun is answered from the LLM cache
    again = (tmp_path / "again" / "train.jsonl").read_bytes()
    assert again == (tmp_path / "out" / "train.jsonl").read_bytes()
