"""docs/studio.md: its Python example runs, and its API table lists every studio-core route."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

DOC = Path(__file__).resolve().parents[2] / "docs" / "studio.md"
CORE_ROUTES = ("projects", "datasets", "records", "jobs")  # the route modules studio-core owns


def test_docs_python_example_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 1
    exec(compile(blocks[0], str(DOC), "exec"), {})


def test_docs_api_table_lists_every_core_route(client: TestClient) -> None:
    text = DOC.read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| (GET|POST|PUT|DELETE) \| `([^`]+)` \|", text, re.M))
    spec = client.get("/api/openapi.json").json()
    routes = {
        (method.upper(), path)
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
        if op.get("tags", [""])[0] in CORE_ROUTES
    }
    assert routes, spec["paths"].keys()
    assert routes - listed == set()
    assert listed - routes == set()
