"""docs/studio.md's security endpoint table lists every /api route of studio-guard's modules."""

from __future__ import annotations

import re
from pathlib import Path

from guardkit import client, settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "studio.md"
GUARD_TAGS = {"auth", "uploads", "connections", "sources"}  # the route modules guard owns


def test_security_table_lists_every_guard_route(tmp_path: Path) -> None:
    # only the Security section: other sections (Review) list their own routes the same way
    text = DOC.read_text(encoding="utf-8").split("\n## Security", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `(GET|POST|PUT|PATCH|DELETE|HEAD) (/api/[^`]*)` \|", text, re.M))
    spec = client(settings(tmp_path)).get("/api/openapi.json").json()
    routes = {
        (method.upper(), path)
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
        if op.get("tags", [""])[0] in GUARD_TAGS
    }
    assert len(routes) >= 19, routes
    assert routes - listed == set()
    assert listed - routes == set()
