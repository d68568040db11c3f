"""The studio's HTML pages without a browser: each page renders, the language comes from the
switch's cookie or the browser's Accept-Language, every UI string used by a template or a script
exists in English and in Chinese, and a record's text cannot inject markup into the page."""

from __future__ import annotations

import json
import re
from pathlib import Path

from fastapi.testclient import TestClient
from studio_helpers import import_rows, new_dataset

from sftforge.studio.i18n import LANGS, messages, pick_lang

STUDIO = Path(__file__).resolve().parents[2] / "src" / "sftforge" / "studio"


def _pages(dataset_id: str) -> list[str]:
    return [
        "/",
        f"/datasets/{dataset_id}",
        f"/datasets/{dataset_id}/import",
        f"/datasets/{dataset_id}/browse",
        f"/datasets/{dataset_id}/rows/data.jsonl:1",
    ]


def test_every_page_renders_with_its_scripts_and_csrf_meta(client: TestClient) -> None:
    dataset_id = new_dataset(client)
    for url in _pages(dataset_id):
        resp = client.get(url)
        assert resp.status_code == 200, url
        assert resp.headers["content-type"].startswith("text/html")
        html = resp.text
        assert '<meta name="csrf-token"' in html
        for src in re.findall(r'src="(/static/[^"]+)"', html):
            assert client.get(src).status_code == 200, src
        ids = json.loads(re.search(r'id="page-ids">(.*?)</script>', html).group(1))  # type: ignore[union-attr]
        if url != "/":
            assert ids["dataset_id"] == dataset_id


def test_language_from_cookie_then_accept_language(client: TestClient) -> None:
    html = client.get("/", headers={"accept-language": "zh-CN,zh;q=0.9,en;q=0.8"}).text
    assert '<html lang="zh-CN">' in html and "新建项目" in html
    client.cookies.set("sftforge_lang", "en")
    html = client.get("/", headers={"accept-language": "zh-CN"}).text
    assert '<html lang="en">' in html and "New project" in html
    assert pick_lang("fr", "de-DE,fr") == "en"  # neither ours: English
    assert pick_lang(None, "en-GB,zh;q=0.5") == "en"


def test_english_and_chinese_have_the_same_strings() -> None:
    en = json.loads((STUDIO / "static/i18n/en.json").read_text(encoding="utf-8"))
    zh = json.loads((STUDIO / "static/i18n/zh.json").read_text(encoding="utf-8"))
    assert set(zh) | {"lang.en", "lang.zh"} == set(en)
    for key, text in zh.items():
        # the same placeholders in both languages
        assert set(re.findall(r"\{\w+\}", text)) == set(re.findall(r"\{\w+\}", en[key])), key
    assert messages("zh")["nav.projects"] == "项目"
    assert set(LANGS) == {"en", "zh"}


def test_every_string_a_page_uses_is_translated() -> None:
    en = messages("en")
    used: set[str] = set()
    for path in (STUDIO / "templates").glob("*.html"):
        used |= set(re.findall(r"t\('([\w.]+)'", path.read_text(encoding="utf-8")))
    for path in (STUDIO / "static").glob("*.js"):
        used |= set(re.findall(r'\bt\("([\w.]+)"', path.read_text(encoding="utf-8")))
    assert len(used) > 100
    # "col." + column and the like: a prefix whose keys are built in the script
    prefixes = {k for k in used if k.endswith(".")}
    assert prefixes == {
        "col.", "diff.", "lang.", "lineage.", "part.", "role.", "status.",
        "review.action.", "review.preset.", "runs.kind.", "runs.task.", "runs.task_help.",
        "job.status.", "runs.stage_state.", "runs.unit.",
    }  # fmt: skip
    for prefix in prefixes:
        assert any(k.startswith(prefix) for k in en), prefix
    for column in ("row_id", "first_user", "n_turns", "chars", "human_verified", "status"):
        assert f"col.{column}" in en
    for role in ("system", "user", "assistant", "tool"):
        assert f"role.{role}" in en
    for action in ("accept", "reject", "flag", "verify"):
        assert f"review.action.{action}" in en
    for lang in ("en", "zh"):  # what a run's progress shows (runs.js), in both languages
        keys = messages(lang)
        for status in ("queued", "running", "done", "failed"):
            assert f"job.status.{status}" in keys
        for state in ("running", "done", "failed"):
            assert f"runs.stage_state.{state}" in keys
        for unit in ("records", "items"):  # sftforge.progress's units of a run's stages
            assert f"runs.unit.{unit}" in keys
    missing = sorted(k for k in used - prefixes if k not in en)
    assert not missing, missing


def test_record_text_is_data_not_markup(client: TestClient) -> None:
    """A row's text reaches the page only through the API as JSON; the page embeds ids and UI
    strings, escaped, so a row id with markup stays text."""
    dataset_id = new_dataset(client)
    import_rows(
        client, dataset_id, "x.json", [{"instruction": "<script>alert(1)</script>", "output": "x"}]
    )
    html = client.get(f"/datasets/{dataset_id}/rows/<img src=x onerror=alert(1)>").text
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
