"""The studio's browser side on a 1M-row version: what a user waits for in Chromium.

    SFTFORGE_DATA=/path/to/shared/data python bench/studio_browser_bench.py [--rows 1000000]

Builds the same 1M-row JSONL as ``studio_bench.py`` (the 52k Alpaca set repeated, each instruction
tagged ``[主题:<topic>]`` and ``[样本<n>]``), imports it with the studio's own import
(``imports.import_file``), serves the real app with uvicorn on a loopback port and drives the
browse page in Debian's Chromium (Playwright, headless), timing from the action to the rows on
screen:

- first page: navigation to the browse page until its rows are shown (HTML, scripts, the dataset
  and versions requests, the first page of rows and the histogram);
- next page, sort by chars (cold: the server computes the order), sort's next page, a rare and a
  common Chinese substring search (cold), the search's next page.

Each step's in-page time is also split, from the browser's Resource Timing of its rows request:
the server's own time (its ``Server-Timing`` header), the wait for the first byte, the download
and the page's own work (JSON parse and the table).

Each round runs in a fresh browser context. "cold" is the first round (the server has computed no
sort order or search of the version yet); "warm" is the median of the later rounds (the server's
per-version caches are filled; the browser's are not). "in page" is the page's own measure (the
rows request + JSON + rendering the table, ``performance.now()``); "wall" is from the action to
the new rows on screen, seen from Playwright (adds its round trip; for the first page, the HTML,
scripts, the dataset, versions and histogram requests too). Results as a Markdown table on stdout
and ``bench/out/studio_browser_bench.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "studio" / "browser"))

from browser_support import CHROMIUM, CHROMIUM_ARGS, StudioServer  # noqa: E402
from studio_bench import make_big  # noqa: E402


def _import(home: Path, src: Path) -> str:
    from sftforge.studio.imports import import_file
    from sftforge.studio.store import Store

    store = Store(home)
    project = store.create_project("bench", "bench")
    dataset = store.create_dataset(project["id"], src.name)
    t = time.perf_counter()
    row = import_file(store, home / "versions", home / "rejects", dataset["id"], src, user="bench")
    print(f"import: {row['imported']:,} rows in {time.perf_counter() - t:.1f}s", flush=True)
    store.close()
    return str(dataset["id"])


def _wait_rows(page: Any, before: str) -> float:
    """Waits until the page loaded rows once more than ``before`` times; the page's own ms."""
    try:
        page.wait_for_function(
            "b => document.body.dataset.loads !== b", arg=before, timeout=120_000
        )
    except Exception:
        print("no new rows; the page says:", page.locator("#error-banner").inner_text())
        raise
    return float(page.evaluate("document.body.dataset.loadedMs"))


# where the page's time went, from the browser's Resource Timing of the last rows request:
# the server's own time (its Server-Timing header; absent on a server without it), the wait for
# the answer's first byte, its download and size; the rest of "in page" is the page's work (JSON
# and the table)
_ROWS_TIMING = """() => {
    const e = performance.getEntriesByType("resource").filter((r) => r.name.includes("/rows?")).pop();
    if (!e) return null;
    const app = (e.serverTiming || []).find((s) => s.name === "app");
    return {server_ms: app ? app.duration : null, wait_ms: e.responseStart - e.requestStart,
            download_ms: e.responseEnd - e.responseStart, request_ms: e.responseEnd - e.startTime,
            bytes: e.encodedBodySize};
}"""


def _split(page: Any, in_page: float) -> dict[str, float]:
    got = page.evaluate(_ROWS_TIMING)
    if not got:
        return {}
    got = {k: v for k, v in got.items() if v is not None}
    got["page_work_ms"] = in_page - got["request_ms"]
    return got


def _step(page: Any, action: Any) -> dict[str, float]:
    before = page.evaluate("document.body.dataset.loads")
    t = time.perf_counter()
    action()
    in_page = _wait_rows(page, before)
    wall = (time.perf_counter() - t) * 1000
    split = _split(page, in_page)
    # not timed: the histogram a new search or filter asks for next, so that the next step does
    # not share the server with it
    page.wait_for_load_state("networkidle")
    return {"wall_ms": wall, "in_page_ms": in_page, **split}


def one_round(
    browser: Any, base_url: str, dataset_id: str, rare: str
) -> dict[str, dict[str, float]]:
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 860})
    page = context.new_page()
    out: dict[str, dict[str, float]] = {}
    t = time.perf_counter()
    page.goto(f"/datasets/{dataset_id}/browse")
    page.wait_for_selector("body[data-ready='1']", timeout=60_000)
    in_page = float(page.evaluate("document.body.dataset.loadedMs"))
    out["first page"] = {
        "wall_ms": (time.perf_counter() - t) * 1000,
        "in_page_ms": in_page,
        **_split(page, in_page),
    }
    page.wait_for_load_state("networkidle")
    out["next page"] = _step(page, lambda: page.click("[data-testid=next-page]"))
    out["sort by chars"] = _step(page, lambda: page.click("[data-testid=sort-chars]"))
    out["sorted, next page"] = _step(page, lambda: page.click("[data-testid=next-page]"))

    def search(text: str) -> Any:
        def run() -> None:
            page.fill("[data-testid=search]", text)
            page.press("[data-testid=search]", "Enter")

        return run

    out["search rare Chinese"] = _step(page, search(rare))
    out["search common Chinese"] = _step(page, search("主题:编程"))
    out["search, next page"] = _step(page, lambda: page.click("[data-testid=next-page]"))
    context.close()
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--home", type=Path, help="keep the imported studio here and reuse it")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    results: dict[str, Any] = {"rows": args.rows, "load_before": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="studio-browser-bench-") as tmp:
        work = Path(tmp)
        home = args.home or work / "home"
        marker = home / "bench_dataset.txt"
        if marker.is_file():
            dataset_id = marker.read_text().strip()
            print(f"reusing the import in {home}", flush=True)
        else:
            big = work / "big.jsonl"
            make_big(big, args.rows)
            dataset_id = _import(home, big)
            big.unlink()
            marker.write_text(dataset_id)
        rare = f"样本{args.rows * 3 // 4:07d}"
        server = StudioServer(home)
        server.start()
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(
                    executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
                )
                rounds = [
                    one_round(browser, server.base_url, dataset_id, rare)
                    for _ in range(args.repeat)
                ]
                browser.close()
        finally:
            server.stop()
    results["cold"] = rounds[0]
    results["warm"] = {
        name: {
            m: statistics.median(r[name][m] for r in rounds[1:] or rounds if m in r[name])
            for m in v
        }
        for name, v in rounds[0].items()
    }
    results["load_after"] = os.getloadavg()
    (HERE / "out").mkdir(exist_ok=True)
    (HERE / "out" / "studio_browser_bench.json").write_text(
        json.dumps(results, indent=2, ensure_ascii=False)
    )
    print(f"\nload average before {results['load_before']}, after {results['load_after']}")
    print(f"\n| in Chromium, {args.rows:,}-row version | cold wall ms | cold in page ms "
          "| warm wall ms | warm in page ms |")  # fmt: skip
    print("|---|---:|---:|---:|---:|")
    for name, cold in results["cold"].items():
        warm = results["warm"][name]
        print(f"| {name} | {cold['wall_ms']:.0f} | {cold['in_page_ms']:.0f} "
              f"| {warm['wall_ms']:.0f} | {warm['in_page_ms']:.0f} |")  # fmt: skip
    print("\nwhere the cold / warm in-page time went (ms; server = Server-Timing, wait = to the "
          "first byte, page = JSON and the table; KB = the rows answer):")  # fmt: skip
    keys = ("server_ms", "wait_ms", "download_ms", "page_work_ms")
    print("\n| step | " + " | ".join(f"{k[:-3]} cold / warm" for k in keys) + " | KB |")
    print("|---|" + "---:|" * (len(keys) + 1))
    for name, cold in results["cold"].items():
        warm = results["warm"][name]
        cells = [f"{cold[k]:.0f} / {warm[k]:.0f}" if k in cold and k in warm else "-" for k in keys]
        kb = f"{cold['bytes'] / 1024:.0f}" if "bytes" in cold else "-"
        print(f"| {name} | " + " | ".join(cells) + f" | {kb} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
