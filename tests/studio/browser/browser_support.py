"""What the browser tests share: the real studio app served by uvicorn on a free loopback port with
a temporary home, and Debian's Chromium driven by Playwright for Python (sync API).

One server and one browser for the whole session (starting Chromium costs about a second and a
half); each test gets a fresh browser context (cookies, storage) and a page. The browser is never
downloaded: it is ``/usr/bin/chromium`` (``scripts/install-browser-deps.sh`` installs it). The tests
skip only when Chromium is absent outside CI; in CI (``CI`` set) a missing browser fails them.
"""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter, Request

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "studio"


def need_browser() -> None:
    """Skip outside CI when there is no Chromium (or no Playwright); fail in CI."""
    problem = None
    if not CHROMIUM.exists():
        problem = f"{CHROMIUM} is missing (scripts/install-browser-deps.sh installs it)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "the playwright package is missing (pip install -e '.[dev]')"
    if problem is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run in CI: {problem}")
    pytest.skip(problem)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class StudioServer:
    """The real app on ``base_url``; ``home`` is its data folder, ``data_root`` the folder
    server-path imports may read."""

    def __init__(
        self,
        home: Path,
        data_root: Path | None = None,
        host: str = "127.0.0.1",
        token: str | None = None,
    ) -> None:
        """``host``: the address to listen on (anything but loopback needs a login: ``token``
        or users)."""
        import uvicorn

        from sftforge.studio.app import create_app
        from sftforge.studio.settings import StudioSettings

        self.home = home
        self.port = _free_port()
        self.settings = StudioSettings(
            home=home, host=host, port=self.port, open_browser=False, data_root=data_root,
            token=token,
        )  # fmt: skip
        self.app = create_app(self.settings)
        if not has_upload_api():
            self.app.include_router(contract_uploads_router(self.settings.folder("staging")))
        config = uvicorn.Config(
            self.app, host=host, port=self.port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="studio-server", daemon=True)
        reach = "127.0.0.1" if host in ("0.0.0.0", "127.0.0.1") else host
        self.base_url = f"http://{reach}:{self.port}"

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the studio server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def screenshot(page: Any, name: str) -> Path:
    """Saves the page as <name>.png: into docs/studio/ (the docs embed these) when
    SFTFORGE_DOC_SCREENSHOTS=1, else into a temp folder, so a plain test run leaves the
    working tree as it was."""
    folder = SCREENSHOTS
    if os.environ.get("SFTFORGE_DOC_SCREENSHOTS") != "1":
        folder = Path(tempfile.gettempdir()) / "sftforge-studio-screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


# The needle rows the stories look for: a Chinese phrase found by substring (not a word match).
NEEDLE_INDEX = 31_337
NEEDLE_PHRASE = "量子纠缠的基本原理"


def write_alpaca_json(path: Path, rows: int = 52_000) -> list[dict[str, str]]:
    """An Alpaca-style JSON list like the 52k set: instruction/input/output, some rows Chinese,
    one row (``NEEDLE_INDEX``) holding ``NEEDLE_PHRASE`` inside a longer sentence."""
    import json

    records = []
    for i in range(rows):
        if i == NEEDLE_INDEX:
            records.append(
                {
                    "instruction": f"请用通俗的语言解释{NEEDLE_PHRASE}，并举一个例子。",
                    "input": "",
                    "output": "量子纠缠是指两个粒子的状态相互关联……",
                }
            )
        elif i % 10 == 3:
            records.append(
                {
                    "instruction": f"把第 {i} 句话翻译成英文。",
                    "input": f"今天的天气很好，第 {i} 号。",
                    "output": f"The weather is nice today, number {i}.",
                }
            )
        else:
            records.append(
                {
                    "instruction": f"Give three tips for staying healthy, variant {i}.",
                    "input": "" if i % 3 else f"Context number {i}.",
                    "output": "1. Eat well.\n2. Exercise.\n3. Sleep." + " More." * (i % 17),
                }
            )
    # indented like the published alpaca_data.json: each record starts on its own line
    path.write_text(json.dumps(records, ensure_ascii=False, indent=4), encoding="utf-8")
    return records


# Headers the column guesser does not know, so the import asks for a mapping in the form.
GBK_HEADERS = ("编号", "用户提问", "参考回复", "类别")
GBK_ROWS = [
    ("q1", "什么是机器学习？", "机器学习是让计算机从数据中学习规律的方法。", "概念"),
    ("q2", "如何煮米饭？", "米和水按一比一点二的比例，煮二十分钟。", "生活"),
    ("q3", "长城有多长？", "明长城全长约八千八百五十公里。", "地理"),
]


def write_gbk_csv(path: Path) -> None:
    """A CSV in GBK (as Excel saves it on a Chinese Windows) with Chinese headers."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(GBK_HEADERS)
    writer.writerows(GBK_ROWS)
    path.write_bytes(buffer.getvalue().encode("gbk"))


def has_upload_api() -> bool:
    """True when studio-guard's resumable uploads (``studio/uploads.py``) are installed."""
    import importlib.util

    return importlib.util.find_spec("sftforge.studio.uploads") is not None


def contract_uploads_router(staging: Path) -> Any:
    """A minimal stand-in for studio-guard's ``/api/uploads`` and the upload kind of
    ``/api/sources/import``, following the contract the import page speaks (create -> id and
    offset; PUT ``?offset=N`` appends; GET -> offset; finish -> staged names relative to the
    upload's folder; import -> studio-core's ``start_import`` of the staged file). Used only on a
    tree without studio-guard's uploads, so the page's drag-and-drop path is driven end to end
    either way; with studio-guard merged the tests use the real endpoints."""
    import uuid

    from sftforge.studio.errors import ApiError

    router = APIRouter()
    uploads: dict[str, dict[str, Any]] = {}

    def state(up: dict[str, Any]) -> dict[str, Any]:
        return {k: up[k] for k in ("id", "name", "size", "offset", "status", "staged")}

    @router.post("/api/uploads", status_code=201)
    async def create(request: Request) -> dict[str, Any]:
        body = await request.json()
        upload_id = uuid.uuid4().hex[:12]
        name = Path(str(body["name"])).name
        up = {"id": upload_id, "name": name, "size": int(body["size"]), "offset": 0,
              "status": "open", "staged": [], "path": staging / upload_id / name}  # fmt: skip
        up["path"].parent.mkdir(parents=True)
        up["path"].write_bytes(b"")
        uploads[upload_id] = up
        return state(up)

    @router.get("/api/uploads/{upload_id}")
    def get(upload_id: str) -> dict[str, Any]:
        if upload_id not in uploads:
            raise ApiError(404, "not_found", f"no upload {upload_id}")
        return state(uploads[upload_id])

    @router.put("/api/uploads/{upload_id}")
    async def put(upload_id: str, offset: int, request: Request) -> dict[str, Any]:
        up = uploads[upload_id]
        if offset != up["offset"]:  # studio-guard answers a wrong offset the same way
            raise ApiError(409, "offset_mismatch", f"offset {offset} is not {up['offset']}")
        data = await request.body()
        with open(up["path"], "ab") as fh:
            fh.write(data)
        up["offset"] += len(data)
        return state(up)

    @router.post("/api/uploads/{upload_id}/finish")
    def finish(upload_id: str) -> dict[str, Any]:
        up = uploads[upload_id]
        up["status"] = "staged"
        up["staged"] = [up["name"]]  # relative to the upload's own folder
        return state(up)

    @router.post("/api/sources/import", status_code=202)
    async def import_upload(request: Request) -> dict[str, Any]:
        from sftforge.studio.imports import start_import

        body = await request.json()
        up = uploads[body["upload_id"]]
        name = body.get("file") or up["staged"][0]
        return start_import(
            request.app.state.store, request.app.state.jobs, body["dataset_id"],
            staging / up["id"] / name, user="local", src_name=name,
            format=body.get("format"), columns=body.get("columns"),
        )  # fmt: skip

    return router
