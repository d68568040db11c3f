// Dataset page: versions (tag, roll back), edits not committed yet (commit them as a version),
// diff of two versions (rows added / removed / changed, field by field and turn by turn), export
// of a version to a format or a trainer (a job, then a download), and the imports with
// read / imported / rejected and their rejected records.
"use strict";

(() => {
  const { api, el, t, fmtNum, fmtTime, waitJob, toast, showError } = Studio;
  const { dataset_id: datasetId } = JSON.parse(document.getElementById("page-ids").textContent);
  const base = "/api/datasets/" + encodeURIComponent(datasetId);
  const $ = (id) => document.getElementById(id);
  let dataset = null;

  async function load() {
    dataset = await api("GET", base);
    $("dataset-title").textContent = dataset.name;
    const versions = (await api("GET", base + "/versions")).versions;
    const tags = {};
    for (const tag of dataset.tags || []) (tags[tag.version_id] = tags[tag.version_id] || []).push(tag.name);
    $("versions-body").replaceChildren(...versions.map((v) => el("tr", { "data-testid": "version-row", dataset: { version: v.id } },
      el("td", {}, el("code", {}, v.id), v.id === dataset.head_version ? el("span", { class: "badge", "data-testid": "head-badge" }, t("dataset.head")) : null),
      el("td", {}, v.kind), el("td", {}, v.message || ""), el("td", { class: "num" }, fmtNum(v.rows)),
      el("td", {}, v.created_by || ""), el("td", {}, fmtTime(v.created_at)),
      el("td", { "data-testid": "version-tags" }, (tags[v.id] || []).map((n) => el("span", { class: "pill" }, n))),
      el("td", {},
        el("a", { href: "/datasets/" + encodeURIComponent(datasetId) + "/browse?version=" + encodeURIComponent(v.id), "data-testid": "version-browse" }, t("nav.browse")), " ",
        el("button", { "data-testid": "version-tag", onclick: () => tag(v.id) }, t("action.tag")), " ",
        v.id !== dataset.head_version ? el("button", { "data-testid": "version-rollback", onclick: () => rollback(v.id) }, t("action.rollback")) : null))));
    // a choice the user made is kept across reloads; otherwise the newest versions are chosen
    for (const id of ["diff-a", "diff-b", "export-version"]) {
      const keep = $(id).dataset.touched ? $(id).value : "";
      $(id).replaceChildren(...versions.map((v) => el("option", { value: v.id }, v.id + " · " + (v.message || v.kind) + " · " + fmtNum(v.rows))));
      if (keep) $(id).value = keep;
    }
    if (!$("export-version").dataset.touched && dataset.head_version) $("export-version").value = dataset.head_version;
    if (versions.length > 1) {
      // newest first: compare the previous version with the newest
      if (!$("diff-a").dataset.touched) $("diff-a").value = versions[1].id;
      if (!$("diff-b").dataset.touched) $("diff-b").value = versions[0].id;
    }
    await Promise.all([loadPending(), loadImports()]);
  }

  async function loadPending() {
    const count = (await api("GET", base + "/edits?limit=5000")).edits.length;
    $("commit-form").hidden = count === 0;
    $("pending").textContent = t("dataset.pending_edits", { count: fmtNum(count) });
  }

  async function tag(versionId) {
    const name = prompt(t("version.tag_prompt", { version: versionId }));
    if (!name) return;
    await api("PUT", base + "/tags/" + encodeURIComponent(name.trim()), { version: versionId });
    await load();
  }

  async function rollback(versionId) {
    if (!confirm(t("version.rollback_confirm", { version: versionId }))) return;
    await api("POST", base + "/rollback", { version: versionId });
    await load();
  }

  $("commit-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const answer = await api("POST", base + "/commit", { message: $("commit-message").value.trim() });
    // a large head is committed by a job (202 with the job): follow it before reloading
    if (answer && answer.kind === "commit" && answer.status !== undefined) {
      const job = await waitJob(answer.id);
      if (job.status !== "done") showError({ code: "job_failed", message: job.message || t("upload.failed") });
    }
    $("commit-message").value = "";
    await load();
  });

  // --- diff ------------------------------------------------------------------------------------
  function show(value) {
    if (value === null || value === undefined) return "";
    return typeof value === "string" ? value : JSON.stringify(value, null, 1);
  }

  /** A field's name for the table: the lineage fields (lineage.made_by...) in the page's language. */
  function fieldLabel(path) {
    return path.startsWith("lineage.") ? t("diff." + path) : path;
  }

  /** One changed row, its fields as the server diffs them (turn by turn: messages[2].content). */
  async function changedRow(a, b, rowId) {
    const d = await api("GET", base + "/diff/row" + Studio.query({ a, b, row_id: rowId }));
    return el("details", { class: "diff-changed", "data-testid": "diff-changed-row", dataset: { rowId }, open: true },
      el("summary", {}, el("code", {}, rowId)),
      el("table", { class: "data" },
        el("thead", {}, el("tr", {}, el("th", {}, t("diff.field")), el("th", {}, t("diff.before")), el("th", {}, t("diff.after")))),
        el("tbody", {}, d.fields.map((f) => el("tr", { "data-testid": "diff-field", dataset: { field: f.path } },
          el("td", { class: "diff-field" }, fieldLabel(f.path)),
          el("td", { class: "diff-field diff-removed" }, show(f.before)),
          el("td", { class: "diff-field diff-added" }, show(f.after)))))));
  }

  for (const id of ["diff-a", "diff-b", "export-version"]) $(id).addEventListener("change", () => ($(id).dataset.touched = "1"));
  $("diff-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const a = $("diff-a").value;
    const b = $("diff-b").value;
    let d = await api("GET", base + "/diff" + Studio.query({ a, b, limit: 100 }));
    if (d.pending) {
      // large versions diffed for the first time: a job reads them (the page follows it)
      const progress = el("p", { "data-testid": "diff-progress" }, t("diff.computing"));
      $("diff-result").replaceChildren(progress);
      const job = await waitJob(d.job.id, (j) => { progress.textContent = t("diff.computing") + " " + Math.round((j.progress || 0) * 100) + " %"; });
      if (job.status !== "done") {
        showError({ code: "job_failed", message: job.message || t("upload.failed") });
        return;
      }
      d = await api("GET", base + "/diff" + Studio.query({ a, b, limit: 100 }));
    }
    const of = (kind) => d.entries.filter((e) => e.change === kind);
    const list = (kind) => of(kind).length ? el("div", { "data-testid": "diff-" + kind },
      el("strong", {}, t("diff." + kind) + ": "), of(kind).map((e) => el("code", { class: "pill diff-" + kind }, e.row_id))) : null;
    const changed = await Promise.all(of("changed").slice(0, 20).map((e) => changedRow(a, b, e.row_id)));
    const parts = [
      el("p", { "data-testid": "diff-summary" }, t("diff.summary", { added: fmtNum(d.added), removed: fmtNum(d.removed), changed: fmtNum(d.changed) })),
      list("added"), list("removed"), ...changed,
    ];
    $("diff-result").replaceChildren(...parts.filter(Boolean));
  });

  // --- export ----------------------------------------------------------------------------------
  $("export-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const [kind, name] = $("export-target").value.split(":");
    const body = { version: $("export-version").value };
    body[kind] = name;
    $("export-status").textContent = t("export.running");
    const started = await api("POST", base + "/exports", body);
    const job = await waitJob(started.id);
    if (job.status !== "done") {
      $("export-status").textContent = job.message || "";
      Studio.showError({ code: "export_failed", message: job.message || "export failed" });
      return;
    }
    $("export-status").textContent = t("export.done", { rows: fmtNum(job.result.rows) });
    const href = "/api/exports/" + encodeURIComponent(job.id) + "/download";
    $("exports").prepend(el("li", { "data-testid": "export-item" },
      el("a", { href, download: job.result.file, "data-testid": "export-download" }, t("action.download") + " " + job.result.file),
      " ", el("span", { class: "muted" }, fmtNum(job.result.bytes) + " B")));
    toast(t("export.done", { rows: fmtNum(job.result.rows) }));
  });

  // --- imports and their rejected records ----------------------------------------------------------
  async function loadImports() {
    const imports = (await api("GET", base + "/imports")).imports;
    $("imports-body").replaceChildren(...imports.map((imp) => el("tr", { "data-testid": "import-row", dataset: { importId: imp.id, status: imp.status } },
      el("td", {}, (imp.source && imp.source.name) || ""),
      el("td", { title: imp.error || "" }, imp.status, imp.error ? el("div", { class: "status-rejected", "data-testid": "import-error" }, imp.error) : null),
      el("td", { class: "num", "data-testid": "import-read" }, fmtNum(imp.read)),
      el("td", { class: "num", "data-testid": "import-imported" }, fmtNum(imp.imported)),
      el("td", { class: "num", "data-testid": "import-rejected" }, fmtNum(imp.rejected)),
      el("td", {}, fmtTime(imp.created_at)),
      el("td", {}, imp.has_rejects ? [
        el("button", { "data-testid": "show-rejects", onclick: () => showRejects(imp.id) }, t("import.show_rejects")), " ",
        el("a", { href: "/api/imports/" + encodeURIComponent(imp.id) + "/rejects.jsonl", "data-testid": "download-rejects" }, t("import.download_rejects")),
      ] : null))));
  }

  async function showRejects(importId) {
    const page = await api("GET", "/api/imports/" + encodeURIComponent(importId) + "/rejects?limit=100");
    $("rejects-body").replaceChildren(...page.rejects.map((r) => el("tr", { "data-testid": "reject-row" },
      el("td", {}, [r.file, r.line].filter((x) => x !== undefined && x !== null).join(":")),
      el("td", { class: "status-rejected" }, r.reason || r.error || ""),
      el("td", { class: "diff-field" }, show(r.record !== undefined ? r.record : r.raw)))));
    $("rejects").hidden = false;
  }

  // --- review queues (studio-review's /api/reviews; the panel stays hidden without it) -------------
  async function loadQueues() {
    const answer = await api("GET", "/api/reviews/queues" + Studio.query({ dataset_id: datasetId }), undefined, { quiet: true }).catch(() => null);
    if (!answer) return;
    $("review-panel").hidden = false;
    $("queues").replaceChildren(...answer.queues.map((q) => el("li", { "data-testid": "queue-item" },
      el("a", { href: "/queues/" + encodeURIComponent(q.id), "data-testid": "queue-link" }, q.name), " ",
      el("span", { class: "muted" }, t("review.items", { items: fmtNum(q.items), percent: q.progress ? q.progress.percent : 0 })))));
  }

  $("queue-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const percent = $("queue-percent").value;
    const q = await api("POST", "/api/reviews/queues", {
      dataset_id: datasetId,
      name: $("queue-name-input").value.trim(),
      preset: $("queue-preset").value,
      q: $("queue-q").value.trim() || null,
      percent: percent ? Number(percent) : null,
      reviewers: $("queue-reviewers").value.split(",").map((s) => s.trim()).filter(Boolean),
      per_item: Number($("queue-per-item").value),
    });
    let queueId = q.id;
    if (q.kind === "review_queue" && q.status !== undefined) {
      // a queue over a large version is built by a job (202 with the job): follow it
      const job = await waitJob(q.id);
      if (job.status !== "done") {
        showError({ code: "job_failed", message: job.message || t("upload.failed") });
        return;
      }
      queueId = job.result.id;
    }
    location.href = "/queues/" + encodeURIComponent(queueId);
  });

  Promise.all([load(), loadQueues()]).then(() => (document.body.dataset.ready = "1"));
})();
