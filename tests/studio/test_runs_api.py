"""Recipe runs on a dataset version (/api/datasets/{id}/runs): a filter, a dedup and a cleaner
make a new version whose rows keep or get their lineage; rejects kept and downloadable; the diff
shows the changes; a bad recipe is the CLI's one line in the one error shape."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from studio_helpers import error_shape, import_rows, new_dataset, run_jobs

from sftforge.studio.app import create_app
from sftforge.studio.settings import StudioSettings

RECORDS = [
    {"id": "html", "messages": [{"role": "user", "content": "什么是<b>机器学习</b>?"},
                                {"role": "assistant", "content": "机器学习是<i>人工智能</i>的一个分支。"}]},
    {"id": "short", "messages": [{"role": "user", "content": "hi"},
                                 {"role": "assistant", "content": "x"}]},
    {"id": "twin-a", "messages": [{"role": "user", "content": "Explain dedup"},
                                  {"role": "assistant", "content": "Dedup removes repeated rows."}]},
    {"id": "twin-b", "messages": [{"role": "user", "content": "Explain dedup"},
                                  {"role": "assistant", "content": "Dedup removes repeated rows."}]},
    {"id": "plain", "messages": [{"role": "user", "content": "数据集的版本是什么?"},
                                 {"role": "assistant", "content": "每次导入或运行都会产生一个新版本。"}]},
]  # fmt: skip

RECIPE = """\
steps:
  - clean_html: {}
  - length_filter: {targets: assistant, min: 5}
  - dedup_exact: {}
"""


def _rows(client: TestClient, ds: str, version: str = "head") -> dict[str, dict[str, Any]]:
    page = client.get(f"/api/datasets/{ds}/versions/{version}/rows", params={"limit": 500})
    assert page.status_code == 200, page.text
    return {r["row_id"]: r for r in page.json()["rows"]}


def _run(client: TestClient, ds: str, recipe: str, **extra: Any) -> dict[str, Any]:
    started = client.post(f"/api/datasets/{ds}/runs", json={"recipe": recipe, **extra})
    assert started.status_code == 202, started.text
    assert started.json()["status"] == "queued"
    run_jobs(client)
    got = client.get(f"/api/runs/{started.json()['id']}")
    assert got.status_code == 200
    run: dict[str, Any] = got.json()
    assert run["job"]["status"] == "done", run["job"]
    return run


@pytest.fixture
def dataset(client: TestClient) -> str:
    ds = new_dataset(client)
    imp = import_rows(client, ds, "qa.jsonl", RECORDS)
    assert imp["imported"] == 5
    # one row edited by a person before the run: its lineage must survive the run
    row = client.get(f"/api/datasets/{ds}/rows/plain").json()
    review = client.post(f"/api/datasets/{ds}/review", json={
        "row_id": "plain", "base_revision": row["revision"], "human_verified": True,
    })  # fmt: skip
    assert review.status_code in (200, 201), review.text
    assert (
        client.post(f"/api/datasets/{ds}/commit", json={"message": "verified"}).status_code == 201
    )
    return ds


def test_a_recipe_run_makes_a_new_version_with_lineage(client: TestClient, dataset: str) -> None:
    ds = dataset
    before = client.get(f"/api/datasets/{ds}").json()["head_version"]
    old = _rows(client, ds)
    run = _run(client, ds, RECIPE)
    assert run["status"] == "done" and run["base_version"] == before
    counts = run["counts"]
    # read = kept + rejected (+ failed); one row changed by clean_html, none added
    assert (counts["read"], counts["kept"], counts["rejected"], counts["failed"]) == (5, 3, 2, 0)
    assert (counts["changed"], counts["added"], counts["rows"]) == (1, 0, 3)
    assert counts["by_operator"] == {"clean_html": 1}
    head = client.get(f"/api/datasets/{ds}").json()["head"]
    assert head["id"] == run["version_id"] != before
    assert head["parent_id"] == before and head["kind"] == "recipe" and head["rows"] == 3

    rows = _rows(client, ds)
    assert set(rows) == {"html", "twin-a", "plain"}
    job_id = run["job_id"]
    # changed by an operator: made_by names it and the job; the source line is the import's
    assert rows["html"]["made_by"] == f"clean_html@{job_id}"
    assert rows["html"]["first_assistant"] == "机器学习是人工智能的一个分支。"
    assert (rows["html"]["src"], rows["html"]["src_line"]) == ("qa.jsonl", 1)
    assert rows["html"]["model"] is None
    # unchanged rows keep their lineage and review state exactly
    for rid in ("twin-a", "plain"):
        for key in ("made_by", "src", "src_line", "edited_by", "edited_at", "human_verified"):
            assert rows[rid][key] == old[rid][key], (rid, key)
    assert rows["plain"]["made_by"] == "import" and rows["plain"]["human_verified"] is True
    assert rows["plain"]["edited_by"] == "local"
    # the filter's metrics are bookkeeping: an unchanged row's sample is byte for byte the old one
    one = client.get(f"/api/datasets/{ds}/rows/twin-a").json()["row"]["sample"]
    assert "stats" not in one.get("meta", {})

    # the rejects: operator, reason, the row's id, the kept twin's row id; viewable and a download
    rejects = client.get(f"/api/runs/{run['id']}/rejects").json()
    assert rejects["total"] == 2
    by_row = {r["row_id"]: r for r in rejects["rejects"]}
    assert by_row["short"]["op"] == "length_filter" and not by_row["short"]["kept_in_version"]
    assert by_row["twin-b"]["op"] == "dedup_exact"
    assert by_row["twin-b"]["kept_row_id"] == "twin-a"
    download = client.get(f"/api/runs/{run['id']}/rejects.jsonl")
    assert download.status_code == 200
    lines = [orjson.loads(x) for x in download.content.splitlines()]
    assert [x["row_id"] for x in lines] == ["short", "twin-b"]

    # the diff of the two versions shows exactly what the run did
    diff = client.get(f"/api/datasets/{ds}/diff", params={"a": before, "b": "head"}).json()
    assert (diff["changed"], diff["added"], diff["removed"]) == (1, 0, 2), diff
    assert {(e["row_id"], e["change"]) for e in diff["entries"]} == {
        ("html", "changed"),
        ("short", "removed"),
        ("twin-b", "removed"),
    }
    field = client.get(f"/api/datasets/{ds}/diff/row",
                       params={"a": before, "b": "head", "row_id": "html"}).json()  # fmt: skip
    assert field["change"] == "changed"
    paths = {f["path"]: (f["before"], f["after"]) for f in field["fields"]}
    assert paths["messages[1].content"] == ("机器学习是<i>人工智能</i>的一个分支。",
                                            "机器学习是人工智能的一个分支。")  # fmt: skip
    assert paths["messages[0].content"][1] == "什么是机器学习?"

    listed = client.get(f"/api/datasets/{ds}/runs").json()["runs"]
    assert [r["id"] for r in listed] == [run["id"]]
    # the run left its recipe and nothing else in its folder; the filter's metrics are cached
    # in the studio's home, not the server user's cache
    home = client.app.state.settings.home  # type: ignore[attr-defined]
    assert [p.name for p in (home / "runs" / run["id"]).iterdir()] == ["recipe.yaml"]
    assert any(p.is_file() for p in (home / "metric-cache").rglob("*"))


def test_a_run_on_an_older_version_and_nothing_lost(client: TestClient, dataset: str) -> None:
    ds = dataset
    first = client.get(f"/api/datasets/{ds}/versions").json()["versions"][-1]["id"]
    run = _run(client, ds, "steps:\n  - dedup_exact: {}\n", version=first)
    assert run["base_version"] == first
    c = run["counts"]
    assert c["read"] == c["kept"] + c["rejected"] + c["failed"] == 5
    # the input was the first version: the row verified later is unverified here
    assert _rows(client, ds)["plain"]["human_verified"] is False


@pytest.mark.parametrize(
    ("recipe", "field", "words"),
    [
        (
            "steps:\n  - length_filter: {min_chars: 3}\n",
            "steps[1].length_filter",
            "has no option 'min_chars'",
        ),
        ("steps:\n  - clean_htm\n", "steps[1].clean_htm", "did you mean 'clean_html'"),
        ("steps: [\n  - dedup_exact\n", None, "not valid YAML"),
        ("inputs: [a.jsonl]\nsteps: [dedup_exact]\n", "inputs", "set by the studio"),
        ("plugins: [os]\nsteps: [dedup_exact]\n", "plugins", "set by the studio"),
        ("steps: []\n", "steps", "no steps"),
        (
            "steps:\n  - respond: {failed: failed.jsonl, llm: {base_url: 'https://x.test/v1'}}\n",
            "steps[1].respond.failed",
            "writes a file",
        ),
        (
            "steps:\n  - respond: {llm: {base_url: 'https://x.test/v1', api_key: sk-abc}}\n",
            "steps[1].respond.llm.api_key",
            "may not be written",
        ),
        (
            "steps:\n  - respond: {llm: {base_url: 'https://u:pw@x.test/v1', model: m}}\n",
            "steps[1].respond.llm.base_url",
            "carries a login",
        ),
        ("steps:\n  - judge\n", "steps[1].judge.llm.base_url", "names no endpoint"),
        ("steps:\n  - respond:\n", "steps[1].respond.llm.base_url", "names no endpoint"),
        (
            "steps:\n  - judge: {llm: {base_url: 'https://x.test/v1', provider: local}}\n",
            "steps[1].judge.llm.provider",
            "OpenAI-compatible",
        ),
    ],
)
def test_a_bad_recipe_is_one_line_in_the_error_shape(
    client: TestClient, dataset: str, recipe: str, field: str | None, words: str
) -> None:
    jobs_before = len(client.get("/api/jobs").json()["jobs"])
    answer = client.post(f"/api/datasets/{dataset}/runs", json={"recipe": recipe})
    assert answer.status_code == 400, answer.text
    err = error_shape(answer.json())
    assert err["code"] == "bad_input"
    assert err["message"].startswith("recipe.yaml"), err
    assert words in f"{err['message']} Fix: {err['hint']}", err
    assert err["field"] == field
    assert err["hint"]
    # no absolute path of this machine in the answer (the home folder, the studio's own folders)
    assert not re.search(r"(^|[\s'\"(])/\w", err["message"]), err
    assert str(Path.home()) not in err["message"]
    # nothing queued, no run recorded
    assert len(client.get("/api/jobs").json()["jobs"]) == jobs_before
    assert client.get(f"/api/datasets/{dataset}/runs").json()["runs"] == []


def test_files_a_recipe_reads_stay_in_the_data_root(tmp_path: Path) -> None:
    root = tmp_path / "data"
    root.mkdir()
    (root / "words.txt").write_text("坏词\n", encoding="utf-8")
    app = create_app(StudioSettings(home=tmp_path / "home", data_root=root, open_browser=False),
                     run_jobs=False)  # fmt: skip
    with TestClient(app, raise_server_exceptions=False) as client:
        ds = new_dataset(client)
        import_rows(client, ds, "qa.jsonl", RECORDS)
        outside = client.post(f"/api/datasets/{ds}/runs", json={
            "recipe": "steps:\n  - flagged_words_filter: {words_file: ../../etc/passwd}\n"})  # fmt: skip
        assert outside.status_code == 403
        err = error_shape(outside.json())
        assert err["code"] == "path_outside_root"
        assert err["field"] == "steps[1].flagged_words_filter.words_file"
        inside = client.post(f"/api/datasets/{ds}/runs", json={
            "recipe": "steps:\n  - flagged_words_filter: {words_file: words.txt}\n"})  # fmt: skip
        assert inside.status_code == 202, inside.text


def test_unknown_things_answer_in_the_error_shape(client: TestClient, dataset: str) -> None:
    for url in ("/api/runs/r_nope", "/api/runs/r_nope/rejects", "/api/runs/r_nope/rejects.jsonl"):
        answer = client.get(url)
        assert answer.status_code == 404
        assert error_shape(answer.json())["code"] == "not_found"
    answer = client.post("/api/datasets/d_nope/runs", json={"recipe": RECIPE})
    assert answer.status_code == 404 and error_shape(answer.json())["code"] == "not_found"
    answer = client.post(f"/api/datasets/{dataset}/runs", json={"recipe": RECIPE, "version": "v9"})
    assert answer.status_code == 404 and error_shape(answer.json())["code"] == "not_found"
    answer = client.post(f"/api/datasets/{dataset}/runs", json={})
    assert answer.status_code == 422 and error_shape(answer.json())["field"] == "recipe"
    # a run with no rejects has none to download
    run = _run(client, dataset, "steps:\n  - normalize_whitespace: {}\n")
    assert not run["has_rejects"]
    answer = client.get(f"/api/runs/{run['id']}/rejects.jsonl")
    assert answer.status_code == 404 and error_shape(answer.json())["code"] == "not_found"


def test_the_runs_page_renders_in_both_languages(client: TestClient, dataset: str) -> None:
    page = client.get(f"/datasets/{dataset}/runs")
    assert page.status_code == 200
    assert 'data-testid="recipe-form"' in page.text and 'src="/static/runs.js"' in page.text
    assert "Recipe runs and generation" in page.text
    client.cookies.set("sftforge_lang", "zh")
    page = client.get(f"/datasets/{dataset}/runs")
    assert "配方运行与生成" in page.text and "为没有回答的行生成回答" in page.text
    assert client.get("/static/runs.js").status_code == 200


def test_a_run_waits_for_open_edits(client: TestClient, dataset: str) -> None:
    """Edits not committed would be laid over the run's rows: the run is refused until they are
    committed, and an edit made while a run waits fails the run instead of being lost."""
    row = client.get(f"/api/datasets/{dataset}/rows/html").json()
    sample = row["row"]["sample"]
    sample["messages"][1]["content"] = "一个人改过的回答。"
    edited = client.put(f"/api/datasets/{dataset}/rows/html",
                        json={"sample": sample, "base_revision": row["revision"]})  # fmt: skip
    assert edited.status_code in (200, 201), edited.text
    refused = client.post(f"/api/datasets/{dataset}/runs", json={"recipe": RECIPE})
    assert refused.status_code == 409
    assert error_shape(refused.json())["code"] == "conflict"
    assert client.post(f"/api/datasets/{dataset}/commit", json={"message": "m"}).status_code == 201

    head = client.get(f"/api/datasets/{dataset}").json()["head_version"]
    started = client.post(f"/api/datasets/{dataset}/runs", json={"recipe": RECIPE}).json()
    row = client.get(f"/api/datasets/{dataset}/rows/plain").json()
    review = client.post(f"/api/datasets/{dataset}/review", json={
        "row_id": "plain", "base_revision": row["revision"], "status": "flagged", "reason": "r",
    })  # fmt: skip
    assert review.status_code in (200, 201), review.text
    run_jobs(client)
    run = client.get(f"/api/runs/{started['id']}").json()
    assert run["status"] == "failed" and "not committed" in run["error"]
    assert run["job"]["status"] == "failed"
    assert client.get(f"/api/datasets/{dataset}").json()["head_version"] == head
    # the person's edit is still open, on the head it was made on
    assert client.get(f"/api/datasets/{dataset}/rows/plain").json()["row"]["status"] == "flagged"


def test_a_run_reports_progress_by_stage(
    client: TestClient, dataset: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The job's progress follows the pipeline's stages (``sftforge.progress.watch``): each
    stage's records done of its total, the executor's stage line, a fraction that only grows;
    the job keeps the last detail once done."""
    from sftforge.studio import jobs

    seen: list[tuple[float, str, dict[str, Any] | None]] = []
    original = jobs.JobContext.progress

    def spy(self: jobs.JobContext, fraction: float, message: str = "", detail: Any = None) -> None:
        seen.append((fraction, message, detail))
        original(self, fraction, message, detail)

    monkeypatch.setattr(jobs.JobContext, "progress", spy)
    run = _run(client, dataset, RECIPE)
    labels = [m.split(":")[0] for _, m, _ in seen if m.startswith("stage ")]
    assert labels[0] == "stage 1/2 (clean_html, length_filter)"
    assert labels[-1] == "stage 2/2 (dedup_exact)"
    fractions = [f for f, _, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 0.9
    # the first stage reads the 5 input rows; the length filter drops one, so dedup reads 4
    final = run["job"]["detail"]
    assert final["input_rows"] == 5
    by_label = {s["label"]: s for s in final["stages"]}
    first = by_label["stage 1/2 (clean_html, length_filter)"]
    assert (first["state"], first["done"], first["total"], first["unit"]) == (
        "done",
        5,
        5,
        "records",
    )
    second = by_label["stage 2/2 (dedup_exact)"]
    assert (second["state"], second["done"], second["total"], second["stage"]) == ("done", 4, 4, 2)
    assert second["fraction"] == 1.0
    # while stage 2 ran, stage 1 was already shown done with its numbers
    during = [d for _, _, d in seen if d and any(s["state"] == "running" and s.get("stage") == 2
                                                 for s in d["stages"])]  # fmt: skip
    assert during and all(d["stages"][0]["state"] == "done" for d in during)
    assert seen[-1][1] == "writing the new version"


def test_a_run_does_not_overwrite_a_version_made_while_it_ran(
    client: TestClient, dataset: str
) -> None:
    """Edits committed while a run waits make a new head: the run fails (409) instead of
    replacing that version with rows that never saw the edits."""
    started = client.post(f"/api/datasets/{dataset}/runs", json={"recipe": RECIPE}).json()
    row = client.get(f"/api/datasets/{dataset}/rows/plain").json()
    review = client.post(f"/api/datasets/{dataset}/review", json={
        "row_id": "plain", "base_revision": row["revision"], "status": "accepted",
    })  # fmt: skip
    assert review.status_code in (200, 201), review.text
    assert client.post(f"/api/datasets/{dataset}/commit", json={"message": "m"}).status_code == 201
    head = client.get(f"/api/datasets/{dataset}").json()["head_version"]
    run_jobs(client)
    run = client.get(f"/api/runs/{started['id']}").json()
    assert run["status"] == "failed" and "new version while the run waited or ran" in run["error"]
    assert client.get(f"/api/datasets/{dataset}").json()["head_version"] == head
    assert _rows(client, dataset)["plain"]["status"] == "accepted"
