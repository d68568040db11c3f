"""Helpers for the studio's API tests (fixtures are in conftest.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from fastapi.testclient import TestClient


def run_jobs(client: TestClient) -> None:
    """Run every queued job now, in this thread."""
    client.app.state.jobs.run_pending()  # type: ignore[attr-defined]


def stage(client: TestClient, name: str, data: bytes | list[Any] | str) -> str:
    """Put a file in the app's staging folder; returns its name for ``{"staged": name}``."""
    home: Path = client.app.state.settings.home  # type: ignore[attr-defined]
    path = home / "staging" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, list):
        data = b"\n".join(orjson.dumps(r) for r in data) + b"\n"
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return name


def new_dataset(client: TestClient, name: str = "ds") -> str:
    project = client.post("/api/projects", json={"name": "proj"}).json()
    dataset = client.post(f"/api/projects/{project['id']}/datasets", json={"name": name}).json()
    return str(dataset["id"])


def import_rows(
    client: TestClient, dataset_id: str, name: str, data: bytes | list[Any] | str, **options: Any
) -> dict[str, Any]:
    """Stage ``data`` as ``name``, import it into ``dataset_id``, run the job; the import."""
    staged = stage(client, name, data)
    started = client.post(f"/api/datasets/{dataset_id}/imports", json={"staged": staged, **options})
    assert started.status_code == 202, started.text
    run_jobs(client)
    got = client.get(f"/api/imports/{started.json()['id']}")
    assert got.status_code == 200
    result: dict[str, Any] = got.json()
    return result


def alpaca(n: int, start: int = 0) -> list[dict[str, str]]:
    """``n`` Alpaca records with Chinese and English text."""
    return [
        {
            "instruction": f"第{i}个问题: 什么是数据集 {i}?",
            "input": "",
            "output": f"Answer {i}: " + "数据" * (i % 7 + 1),
        }
        for i in range(start, start + n)
    ]


def error_shape(body: Any) -> dict[str, Any]:
    """The one error shape, checked; returns the inner error."""
    assert set(body) == {"error"}, body
    err = body["error"]
    assert set(err) == {"code", "message", "field", "hint"}, err
    assert isinstance(err["code"], str) and err["code"]
    assert isinstance(err["message"], str) and err["message"] and "\n" not in err["message"]
    return dict(err)
