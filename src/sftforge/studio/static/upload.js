// Import page: drop files or folders (or pick them); each file goes up in resumable chunks
// (/api/uploads: create, PUT ?offset=N, resume from GET's offset, finish -> staged files, more
// than one for an archive), then each staged file is imported into the dataset
// (/api/sources/import with kind "upload", a job the page follows). read = imported + rejected is shown per file. When the format cannot be detected the
// column mapping form opens with the file's columns, and the import is retried with the mapping.
"use strict";

(() => {
  const { api, el, t, fmtNum, waitJob, showError, clearError } = Studio;
  const { dataset_id: datasetId } = JSON.parse(document.getElementById("page-ids").textContent);
  const dsBase = "/api/datasets/" + encodeURIComponent(datasetId);
  // bytes per PUT; a test may set window.studioUploadChunk smaller to see many chunks
  const CHUNK = window.studioUploadChunk || 4 * 1024 * 1024;
  const PARTS = ["", "prompt", "query", "response", "system", "history", "id", "tools", "meta"];
  const $ = (id) => document.getElementById(id);
  let mapping = null; // {item, columns} while the mapping form is open

  /** One row of the queue table, updated as the file moves on (``file`` null for a source). */
  function queueRow(file, relPath) {
    const cells = {
      progress: el("progress", { max: 1, value: 0, "data-testid": "upload-progress" }),
      status: el("td", { "data-testid": "upload-status" }, t("upload.uploading")),
      read: el("td", { class: "num", "data-testid": "import-read" }),
      imported: el("td", { class: "num", "data-testid": "import-imported" }),
      rejected: el("td", { class: "num", "data-testid": "import-rejected" }),
    };
    const tr = el("tr", { "data-testid": "upload-item", dataset: { name: relPath } },
      el("td", { "data-testid": "upload-name" }, relPath), el("td", { class: "num" }, file ? fmtNum(file.size) : ""),
      el("td", {}, cells.progress), cells.status, cells.read, cells.imported, cells.rejected);
    $("queue-body").append(tr);
    return { file, relPath, tr, cells, staged: [] };
  }

  function setStatus(item, key, extra) {
    item.cells.status.textContent = t(key) + (extra ? " · " + extra : "");
    item.tr.dataset.status = key.split(".")[1];
  }

  /** Sends the file in chunks; a stored upload id (same name, size, date) resumes at its offset. */
  async function upload(item) {
    const { file, relPath } = item;
    const key = "studio.upload." + [relPath, file.size, file.lastModified].join(":");
    let up = null;
    const known = localStorage.getItem(key);
    if (known) {
      up = await api("GET", "/api/uploads/" + encodeURIComponent(known), undefined, { quiet: true }).catch(() => null);
      if (up && up.offset) setStatus(item, "upload.uploading", t("upload.resumed", { offset: fmtNum(up.offset) }));
    }
    if (!up || up.status !== "open") {
      up = await api("POST", "/api/uploads", { name: file.name, size: file.size, rel_path: relPath });
      localStorage.setItem(key, up.id);
    }
    let offset = up.offset || 0;
    while (offset < file.size) {
      const end = Math.min(offset + CHUNK, file.size);
      up = await api("PUT", "/api/uploads/" + encodeURIComponent(up.id) + "?offset=" + offset, file.slice(offset, end),
        { headers: { "Content-Type": "application/octet-stream" } });
      offset = up.offset;
      item.cells.progress.value = file.size ? offset / file.size : 1;
    }
    const done = await api("POST", "/api/uploads/" + encodeURIComponent(up.id) + "/finish", { extract: true });
    item.uploadId = up.id;
    localStorage.removeItem(key);
    item.cells.progress.value = 1;
    return done.staged;
  }

  /** Imports one staged file and follows its job; returns the finished import. */
  async function importStaged(item, staged, columns) {
    const body = item.source || { kind: "upload", upload_id: item.uploadId, file: staged };
    return importSource(item, Object.assign({}, body, { columns: columns || null }), staged);
  }

  /** Imports from any source of /api/sources/import and follows the job into the queue row. */
  async function importSource(item, source, staged) {
    setStatus(item, "upload.importing");
    const body = Object.assign({ dataset_id: datasetId, format: $("format").value || null,
      require_answer: !$("keep-prompts").checked }, source);
    const started = await api("POST", "/api/sources/import", body);
    const job = await waitJob(started.job_id, (j) => { item.cells.progress.value = j.progress || 0; });
    const imp = await api("GET", "/api/imports/" + encodeURIComponent(started.id));
    item.cells.read.textContent = fmtNum(imp.read);
    item.cells.imported.textContent = fmtNum(imp.imported);
    item.cells.rejected.textContent = fmtNum(imp.rejected);
    if (imp.status === "done") {
      setStatus(item, "upload.done");
      return imp;
    }
    setStatus(item, "upload.failed");
    item.tr.dataset.error = imp.error || job.message || "";
    showError({ code: "bad_input", message: imp.error || job.message || t("upload.failed") });
    // the mapping form reads the columns from the file in the browser: uploads only
    if (item.file && /cannot detect the format|column/i.test(imp.error || "")) await openMapping(item, staged);
    return imp;
  }

  async function handle(file, relPath) {
    const item = queueRow(file, relPath);
    try {
      const staged = await upload(item);
      for (const s of staged) await importStaged(item, s);
    } catch (err) {
      setStatus(item, "upload.failed");
    }
  }

  // --- column mapping: the file's own columns, read from its first bytes in the browser ---------
  function decode(bytes) {
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch (e) {
      return new TextDecoder("gb18030").decode(bytes); // Excel's CSV on a Chinese Windows
    }
  }

  function splitCsv(line) {
    const out = [];
    let cur = "";
    let quoted = false;
    for (let i = 0; i < line.length; i++) {
      const c = line[i];
      if (quoted) {
        if (c === '"' && line[i + 1] === '"') { cur += '"'; i++; }
        else if (c === '"') quoted = false;
        else cur += c;
      } else if (c === '"') quoted = true;
      else if (c === "," || c === "\t") { out.push(cur); cur = ""; }
      else cur += c;
    }
    out.push(cur);
    return out;
  }

  async function peekColumns(file) {
    const text = decode(new Uint8Array(await file.slice(0, 64 * 1024).arrayBuffer())).replace(/^\uFEFF/, "");
    const trimmed = text.trimStart();
    if (trimmed.startsWith("[") || trimmed.startsWith("{")) {
      const m = trimmed.match(/\{[^{}]*\}/);
      try {
        const rec = JSON.parse(m ? m[0] : "{}");
        return Object.entries(rec).map(([name, value]) => ({ name, value: typeof value === "string" ? value : JSON.stringify(value) }));
      } catch (e) {
        return [];
      }
    }
    const lines = text.split(/\r?\n/);
    const head = splitCsv(lines[0] || "");
    const first = splitCsv(lines[1] || "");
    return head.map((name, i) => ({ name, value: first[i] || "" }));
  }

  async function openMapping(item, staged) {
    const columns = await peekColumns(item.file);
    mapping = { item, staged, columns };
    $("columns-why").textContent = t("upload.columns_why", { file: item.relPath });
    $("columns-body").replaceChildren(...columns.map((c) => el("tr", { "data-testid": "column-row", dataset: { column: c.name } },
      el("td", {}, c.name), el("td", { class: "text muted" }, c.value.slice(0, 80)),
      el("td", {}, el("select", { "data-testid": "column-part", "data-column": c.name },
        PARTS.map((p) => el("option", { value: p }, t("part." + (p || "ignore")))))))));
    $("columns-panel").hidden = false;
    $("columns-panel").scrollIntoView({ block: "nearest" });
  }

  $("columns-apply").addEventListener("click", async () => {
    if (!mapping) return;
    const pairs = [];
    for (const select of $("columns-body").querySelectorAll("select")) {
      const col = select.dataset.column;
      if (!select.value) continue;
      pairs.push(col + "=" + (select.value === "meta" ? "meta." + col : select.value));
    }
    const { item, staged } = mapping;
    mapping = null;
    $("columns-panel").hidden = true;
    clearError();
    for (const cell of [item.cells.read, item.cells.imported, item.cells.rejected]) cell.textContent = "";
    await importStaged(item, staged, pairs.join(","));
  });

  // --- files and folders in: drop, pick a file, pick a folder ------------------------------------
  async function entries(entry, prefix) {
    if (entry.isFile) return [await new Promise((ok, fail) => entry.file((f) => ok([f, prefix + f.name]), fail))];
    const reader = entry.createReader();
    const out = [];
    for (;;) {
      const batch = await new Promise((ok, fail) => reader.readEntries(ok, fail));
      if (!batch.length) break;
      for (const child of batch) out.push(...(await entries(child, prefix + entry.name + "/")));
    }
    return out;
  }

  async function takeFiles(pairs) {
    clearError();
    for (const [file, rel] of pairs) await handle(file, rel);
  }

  const zone = $("dropzone");
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", async (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    const items = [...(event.dataTransfer.items || [])].map((i) => (i.webkitGetAsEntry ? i.webkitGetAsEntry() : null));
    if (items.length && items.every(Boolean)) {
      const pairs = [];
      for (const entry of items) pairs.push(...(await entries(entry, "")));
      await takeFiles(pairs);
    } else {
      await takeFiles([...event.dataTransfer.files].map((f) => [f, f.name]));
    }
  });
  $("file-input").addEventListener("change", (event) => takeFiles([...event.target.files].map((f) => [f, f.name])));
  $("folder-input").addEventListener("change", (event) => takeFiles([...event.target.files].map((f) => [f, f.webkitRelativePath || f.name])));

  // --- other sources (studio-guard's /api/sources): a path in the server's data root, a URL
  // (alone or through a saved connection), a Hugging Face dataset; hidden without that API ----
  const PLACEHOLDERS = { server_path: "source.placeholder.server_path", url: "source.placeholder.url", hf: "source.placeholder.hf" };

  function sourceKindChanged() {
    const kind = $("source-kind").value;
    $("source-value").placeholder = t(PLACEHOLDERS[kind]);
    $("source-connection").hidden = kind !== "url" || $("source-connection").options.length < 2;
    $("source-split").hidden = kind !== "hf";
    if (kind === "server_path") listServerFiles(".");
    else $("server-files").replaceChildren();
  }

  async function listServerFiles(path) {
    let listing;
    try {
      listing = await api("GET", "/api/sources/files" + Studio.query({ path }), undefined, { quiet: true });
    } catch (err) {
      $("server-files").replaceChildren(el("p", { class: "muted", "data-testid": "server-files-off" }, err.message + (err.hint ? " · " + err.hint : "")));
      return;
    }
    const join = (name) => (listing.path === "." ? name : listing.path + "/" + name);
    const up = listing.path === "." ? null : el("li", {}, el("a", { href: "#", onclick: (e) => { e.preventDefault(); listServerFiles(listing.path.split("/").slice(0, -1).join("/") || "."); } }, ".."));
    $("server-files").replaceChildren(el("ul", { class: "files" }, up, listing.entries.map((entry) => el("li", { "data-testid": "server-file", dataset: { name: entry.name } },
      el("a", { href: "#", onclick: (e) => {
        e.preventDefault();
        if (entry.dir) listServerFiles(join(entry.name));
        else $("source-value").value = join(entry.name);
      } }, entry.dir ? entry.name + "/" : entry.name),
      entry.dir ? null : el("span", { class: "muted" }, " " + fmtNum(entry.size))))));
  }

  $("source-kind").addEventListener("change", sourceKindChanged);
  $("source-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    clearError();
    const kind = $("source-kind").value;
    const value = $("source-value").value.trim();
    const source = { kind };
    if (kind === "server_path") source.path = value;
    else if (kind === "url") {
      source.url = value;
      source.connection_id = $("source-connection").value || null;
    } else {
      source.dataset = value;
      source.split = $("source-split").value.trim() || null;
    }
    const item = queueRow(null, value);
    item.source = source;
    try {
      await importSource(item, source, null);
    } catch (err) {
      setStatus(item, "upload.failed");
    }
  });

  async function setupSources() {
    const found = await api("GET", "/api/connections", undefined, { quiet: true }).catch(() => null);
    if (!found) return;
    for (const c of found.connections.filter((c) => c.kind !== "llm")) $("source-connection").append(el("option", { value: c.id }, c.name + " (" + c.kind + ")"));
    $("sources-panel").hidden = false;
    sourceKindChanged();
  }

  (async () => {
    await setupSources();
    const ds = await api("GET", dsBase);
    $("dataset-name").textContent = ds.name;
    document.body.dataset.ready = "1";
  })();
})();
