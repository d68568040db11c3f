// Browser page: one page of a version at a time (the server pages, sorts, filters and searches;
// the browser never holds the dataset), a histogram strip that filters when dragged, and keys.
// The state lives in the address (?version=&q=&sort=&desc=&status=&verified=&tag=&range=&offset=)
// so reloading, going back and sharing a link keep it.
"use strict";

(() => {
  const { api, el, t, fmtNum, query, keys } = Studio;
  const { dataset_id: datasetId } = JSON.parse(document.getElementById("page-ids").textContent);
  const base = "/api/datasets/" + encodeURIComponent(datasetId);
  const LIMIT = 50;
  const INTEGER = new Set(["n_turns", "n_user", "n_assistant", "n_tool", "chars", "tokens_est", "src_line"]);
  const COLUMNS = [
    ["row_id", "text"], ["first_user", "text"], ["first_assistant", "text"], ["n_turns", "num"],
    ["n_user", "num"], ["n_assistant", "num"], ["n_tool", "num"], ["chars", "num"],
    ["tokens_est", "num"], ["tags", "tags"], ["score", "num"], ["status", "status"],
    ["human_verified", "bool"],
  ];
  const SORTABLE = new Set(COLUMNS.map(([c]) => c).filter((c) => c !== "tags"));

  const url = new URL(location.href);
  const state = {
    version: url.searchParams.get("version") || "",
    q: url.searchParams.get("q") || "",
    sort: url.searchParams.get("sort") || "",
    desc: url.searchParams.get("desc") === "1",
    status: url.searchParams.get("status") || "",
    verified: url.searchParams.get("verified") || "",
    tag: url.searchParams.get("tag") || "",
    range: url.searchParams.get("range") || "", // "column:min:max"
    offset: Number(url.searchParams.get("offset") || 0),
  };
  let rows = [];
  let total = 0;
  let current = -1;
  let histColumn = state.range ? state.range.split(":")[0] : "chars";
  let histogram = null;

  const $ = (id) => document.getElementById(id);

  /** The server's filter strings (column:op:value) for the current state. */
  function filters() {
    const out = [];
    if (state.status === "none") out.push("status:eq:");
    else if (state.status) out.push("status:eq:" + state.status);
    if (state.verified) out.push("human_verified:eq:" + state.verified);
    if (state.tag) out.push("tags:has:" + state.tag);
    if (state.range) {
      const [column, lo, hi] = state.range.split(":");
      out.push(column + ":ge:" + lo, column + ":le:" + hi);
    }
    return out;
  }

  function versionBase() {
    return base + "/versions/" + encodeURIComponent(state.version);
  }

  function apiQuery(extra) {
    const q = new URLSearchParams();
    if (state.q) q.set("q", state.q);
    for (const f of filters()) q.append("filter", f);
    for (const [k, v] of Object.entries(extra || {})) if (v !== "" && v !== null && v !== undefined) q.set(k, String(v));
    return "?" + q.toString();
  }

  function saveState() {
    const { version, q, sort, status, verified, tag, range, offset } = state;
    history.replaceState(null, "", location.pathname + query({ version, q, sort, desc: state.desc ? 1 : "", status, verified, tag, range, offset: offset || "" }));
  }

  function cell(row, column, kind) {
    const value = row[column];
    if (kind === "tags") return el("td", {}, (value || []).map((tag) => el("span", { class: "pill" }, tag)));
    if (kind === "status") return el("td", { class: "status-" + (value || "none"), "data-testid": "cell-status" }, value ? t("status." + value) : "");
    if (kind === "bool") return el("td", { "data-testid": "cell-verified" }, value ? "✓" : "");
    if (kind === "num") return el("td", { class: "num" }, value === null || value === undefined ? "" : fmtNum(value));
    return el("td", { class: "text", title: value || "", "data-testid": "cell-" + column }, value || "");
  }

  function renderHead() {
    $("head").replaceChildren(...COLUMNS.map(([column]) => {
      const sorted = state.sort === column ? (state.desc ? " sorted-desc" : " sorted-asc") : "";
      return el("th", {
        class: (SORTABLE.has(column) ? "sortable" : "") + sorted,
        "data-testid": "sort-" + column,
        onclick: SORTABLE.has(column) ? () => sortBy(column) : null,
      }, t("col." + column));
    }));
  }

  function renderRows() {
    $("rows-body").replaceChildren(...rows.map((row, i) => el("tr", {
      class: "clickable" + (i === current ? " current" : ""),
      "data-testid": "row",
      dataset: { rowId: row.row_id },
      onclick: () => open(i),
    }, COLUMNS.map(([c, kind]) => cell(row, c, kind)))));
    if (!rows.length) $("rows-body").replaceChildren(el("tr", {}, el("td", { colspan: COLUMNS.length, class: "muted", "data-testid": "no-rows" }, t("browse.no_rows"))));
    const from = total ? state.offset + 1 : 0;
    $("page-info").textContent = t("browse.page", { from: fmtNum(from), to: fmtNum(state.offset + rows.length), total: fmtNum(total) });
    $("prev").disabled = state.offset === 0;
    $("next").disabled = state.offset + rows.length >= total;
  }

  async function loadRows() {
    const started = performance.now();
    const page = await api("GET", versionBase() + "/rows" + apiQuery({ offset: state.offset, limit: LIMIT, sort: state.sort, desc: state.sort && state.desc ? "true" : "" }));
    rows = page.rows;
    total = page.total;
    current = rows.length ? Math.min(Math.max(current, 0), rows.length - 1) : -1;
    renderRows();
    const ms = Math.round(performance.now() - started);
    $("summary").textContent = t("browse.summary", { total: fmtNum(total), ms });
    // read by the browser timings: how long the last page took, and how many pages were loaded
    document.body.dataset.loadedMs = String(ms);
    document.body.dataset.loads = String(Number(document.body.dataset.loads || 0) + 1);
    saveState();
    remember();
  }

  /** What the record page needs for j/k: the query and this page's row ids. */
  function remember() {
    sessionStorage.setItem("studio.nav." + datasetId, JSON.stringify({
      version: state.version, rows: versionBase() + "/rows", query: apiQuery({ sort: state.sort, desc: state.sort && state.desc ? "true" : "" }),
      offset: state.offset, total, ids: rows.map((r) => r.row_id), browse: location.search,
    }));
  }

  async function loadHistogram() {
    const h = await api("GET", versionBase() + "/histogram" + apiQuery({ column: histColumn, bins: 40 }));
    histogram = h;
    const max = Math.max(1, ...h.counts);
    const [rc, rlo, rhi] = state.range ? state.range.split(":") : [];
    const bars = h.counts.map((count, i) => {
      const inRange = rc === histColumn && h.edges[i + 1] > Number(rlo) && h.edges[i] <= Number(rhi);
      return el("div", {
        class: "bar" + (inRange ? " in" : ""),
        style: "height:" + Math.max(1, Math.round((count / max) * 100)) + "%",
        title: fmtNum(Math.round(h.edges[i])) + "–" + fmtNum(Math.round(h.edges[i + 1])) + ": " + fmtNum(count),
        "data-testid": "hist-bar",
      });
    });
    $("histogram").replaceChildren(...bars, el("div", { class: "selection", id: "hist-selection", hidden: true }));
    $("hist-range").textContent = state.range ? t("browse.range", { column: t("col." + rc), min: rlo, max: rhi }) : "";
  }

  /** Rows first, then the histogram: the histogram of a new search reuses the match the rows
   * request left in the server's cache instead of computing it a second time in parallel. */
  async function reload(resetOffset) {
    if (resetOffset) state.offset = 0;
    current = 0;
    await loadRows();
    await loadHistogram();
  }

  function sortBy(column) {
    if (state.sort === column) state.desc = !state.desc;
    else {
      state.sort = column;
      state.desc = INTEGER.has(column) || column === "score";
    }
    renderHead();
    state.offset = 0;
    loadRows();
  }

  function open(i) {
    if (i < 0 || i >= rows.length) return;
    current = i;
    remember();
    location.href = "/datasets/" + encodeURIComponent(datasetId) + "/rows/" + encodeURIComponent(rows[i].row_id) + query({ version: state.version });
  }

  function move(delta) {
    if (!rows.length) return;
    current = Math.min(Math.max(current + delta, 0), rows.length - 1);
    renderRows();
    const tr = $("rows-body").children[current];
    if (tr) tr.scrollIntoView({ block: "nearest" });
  }

  function turnPage(delta) {
    const next = state.offset + delta * LIMIT;
    if (next < 0 || next >= total) return;
    state.offset = next;
    current = 0;
    loadRows();
  }

  // --- histogram dragging: a range over the bars becomes column:ge:lo + column:le:hi ---
  function binAt(x) {
    const box = $("histogram").getBoundingClientRect();
    const n = histogram ? histogram.counts.length : 1;
    return Math.min(n - 1, Math.max(0, Math.floor(((x - box.left) / box.width) * n)));
  }

  function setupHistogram() {
    const strip = $("histogram");
    let start = null;
    strip.addEventListener("mousedown", (event) => {
      if (!histogram || !histogram.counts.length) return;
      start = event.clientX;
      event.preventDefault();
    });
    window.addEventListener("mousemove", (event) => {
      if (start === null) return;
      const sel = $("hist-selection");
      const box = strip.getBoundingClientRect();
      const a = Math.max(box.left, Math.min(start, event.clientX));
      const b = Math.min(box.right, Math.max(start, event.clientX));
      sel.hidden = false;
      sel.style.left = a - box.left + "px";
      sel.style.width = b - a + "px";
    });
    window.addEventListener("mouseup", (event) => {
      if (start === null) return;
      const from = start;
      start = null;
      if (Math.abs(event.clientX - from) < 3) {
        state.range = ""; // a click clears the range
      } else {
        const lo = binAt(Math.min(from, event.clientX));
        const hi = binAt(Math.max(from, event.clientX));
        let min = histogram.edges[lo];
        let max = histogram.edges[hi + 1];
        if (INTEGER.has(histColumn)) {
          min = Math.ceil(min);
          max = hi + 1 === histogram.counts.length ? Math.floor(max) : Math.ceil(max) - 1;
        }
        state.range = histColumn + ":" + min + ":" + max;
      }
      reload(true);
    });
    $("hist-column").value = histColumn;
    $("hist-column").addEventListener("change", () => {
      histColumn = $("hist-column").value;
      state.range = "";
      reload(true);
    });
  }

  async function init() {
    // the dataset and its versions at once: one round trip before the first rows, not two
    const [ds, listed] = await Promise.all([api("GET", base), api("GET", base + "/versions")]);
    $("dataset-name").textContent = ds.name;
    const versions = listed.versions;
    if (!state.version) state.version = ds.head_version || "";
    $("version").replaceChildren(...versions.map((v) =>
      el("option", { value: v.id, selected: v.id === state.version }, v.id + (v.id === ds.head_version ? " (" + t("dataset.head") + ")" : "") + " · " + fmtNum(v.rows))));
    $("version").addEventListener("change", () => {
      state.version = $("version").value;
      reload(true);
    });
    $("search").value = state.q;
    $("status").value = state.status;
    $("verified").value = state.verified;
    $("tag").value = state.tag;
    $("filters").addEventListener("submit", (event) => {
      event.preventDefault();
      state.q = $("search").value.trim();
      state.status = $("status").value;
      state.verified = $("verified").value;
      state.tag = $("tag").value.trim();
      reload(true);
    });
    $("clear").addEventListener("click", () => {
      Object.assign(state, { q: "", status: "", verified: "", tag: "", range: "" });
      $("search").value = $("tag").value = "";
      $("status").value = $("verified").value = "";
      reload(true);
    });
    $("prev").addEventListener("click", () => turnPage(-1));
    $("next").addEventListener("click", () => turnPage(1));
    setupHistogram();
    renderHead();
    if (!state.version) {
      renderRows();
      return;
    }
    await reload(false);
    document.body.dataset.ready = "1";
  }

  keys({
    "/": () => $("search").focus(),
    j: () => move(1),
    k: () => move(-1),
    Enter: () => open(current),
    n: () => turnPage(1),
    p: () => turnPage(-1),
  });
  $("search").addEventListener("keydown", (event) => {
    if (event.key === "Escape") $("search").blur();
  });

  init();
})();
