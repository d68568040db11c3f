// Runs page: run a recipe on a version of the dataset, or an LLM generation (answer the rows
// without an answer, suggest an answer beside each person's, judge and score), each a job whose
// output is a new version; follow its progress; the runs with read / kept / changed / rejected /
// failed / added, and their rejected rows (viewable and downloadable). Everything goes through
// /api/datasets/{id}/runs, /generate and /api/runs/{id}.
"use strict";

(() => {
  const { api, el, t, fmtNum, fmtTime, waitJob, toast } = Studio;
  const { dataset_id: datasetId } = JSON.parse(document.getElementById("page-ids").textContent);
  const base = "/api/datasets/" + encodeURIComponent(datasetId);
  const $ = (id) => document.getElementById(id);
  // a handler's API failure is already in the error banner (Studio.api shows it)
  const handled = (fn) => (event) => fn(event).catch((err) => { if (!(err instanceof Studio.ApiError)) Studio.showError(err); });

  async function loadVersions() {
    const dataset = await api("GET", base);
    const versions = (await api("GET", base + "/versions")).versions;
    const keep = $("run-version").value;
    $("run-version").replaceChildren(...versions.map((v) =>
      el("option", { value: v.id }, v.id + " · " + (v.message || v.kind) + " · " + fmtNum(v.rows))));
    $("run-version").value = keep && versions.some((v) => v.id === keep) ? keep : dataset.head_version || "";
  }

  async function loadConnections() {
    const found = await api("GET", "/api/connections", undefined, { quiet: true }).catch(() => null);
    const options = [el("option", { value: "" }, t("runs.no_connection"))];
    for (const c of (found && found.connections) || []) {
      if (c.kind !== "llm") continue;
      options.push(el("option", { value: c.id, dataset: { model: c.settings.model || "" } },
        c.name + " · " + (c.settings.base_url || "")));
    }
    const keep = $("gen-connection").value;
    $("gen-connection").replaceChildren(...options);
    $("gen-connection").value = keep;
    endpointFields();
  }

  function endpointFields() {
    // a saved connection names the endpoint and its key; otherwise a URL and a variable's name
    $("gen-endpoint").hidden = $("gen-connection").value !== "";
    $("gen-task-help").textContent = t("runs.task_help." + $("gen-task").value);
  }

  function counts(run) {
    const c = run.counts || {};
    return [c.read, c.kept, c.changed, c.rejected, c.failed, c.added].map((n, i) =>
      el("td", { class: "num", "data-testid": ["run-read", "run-kept", "run-changed", "run-rejected", "run-failed", "run-added"][i] }, fmtNum(n)));
  }

  async function loadRuns() {
    const runs = (await api("GET", base + "/runs")).runs;
    $("runs-body").replaceChildren(...runs.map((run) => el("tr", { "data-testid": "run-row", dataset: { runId: run.id, status: run.status } },
      el("td", { title: run.recipe }, t("runs.kind." + run.kind)),
      el("td", {}, run.status, run.error ? el("div", { class: "status-rejected", "data-testid": "run-error" }, run.error) : null),
      ...counts(run),
      el("td", {}, run.version_id ? el("a", {
        href: "/datasets/" + encodeURIComponent(datasetId) + "/browse?version=" + encodeURIComponent(run.version_id),
        "data-testid": "run-version-link" }, el("code", {}, run.version_id)) : ""),
      el("td", {}, fmtTime(run.created_at)),
      el("td", {}, run.has_rejects ? [
        el("button", { "data-testid": "run-show-rejects", onclick: () => showRejects(run.id) }, t("import.show_rejects")), " ",
        el("a", { href: "/api/runs/" + encodeURIComponent(run.id) + "/rejects.jsonl", "data-testid": "run-download-rejects" }, t("import.download_rejects")),
      ] : null))));
  }

  async function showRejects(runId) {
    const page = await api("GET", "/api/runs/" + encodeURIComponent(runId) + "/rejects?limit=100");
    $("run-rejects-body").replaceChildren(...page.rejects.map((r) => el("tr", { "data-testid": "run-reject-row" },
      el("td", {}, r.row_id
        ? el("a", { href: "/datasets/" + encodeURIComponent(datasetId) + "/rows/" + encodeURIComponent(r.row_id) }, r.row_id)
        : t("runs.added_row")),
      el("td", {}, r.op || ""),
      el("td", { class: "status-rejected" }, r.reason || ""),
      el("td", {}, r.kept_in_version ? t("runs.yes") : ""),
      el("td", { class: "diff-field" }, JSON.stringify((r.sample || {}).messages || r.sample || null)))));
    $("run-rejects").hidden = false;
  }

  /** An LLM step's numbers: calls, failures, tokens and cost of the step, its budget. */
  function llmText(stage) {
    const l = stage.llm;
    const parts = [t("runs.llm_calls", { n: fmtNum(l.calls) })];
    if (l.calls_failed) parts.push(t("runs.llm_calls_failed", { n: fmtNum(l.calls_failed) }));
    if (stage.items_failed) parts.push(t("runs.llm_items_failed", { n: fmtNum(stage.items_failed) }));
    parts.push(t("runs.llm_tokens", { n: fmtNum(l.tokens) }));
    if (l.cost) parts.push(t("runs.llm_cost", { n: fmtNum(l.cost) }));
    const b = l.budget || {};
    if (b.max_tokens !== null && b.max_tokens !== undefined)
      parts.push(t("runs.budget_tokens", { spent: fmtNum(b.spent_tokens), max: fmtNum(b.max_tokens) }));
    if (b.max_cost !== null && b.max_cost !== undefined)
      parts.push(t("runs.budget_cost", { spent: fmtNum(b.spent_cost), max: fmtNum(b.max_cost) }));
    return parts.join(" · ");
  }

  /** A stage's name in the page's language: the library's "stage 2/3 (clean, dedup_exact)"
   * is said with the step names as the recipe spells them; "read inputs" and "write outputs"
   * are the library's own steps. */
  function stageLabel(s) {
    if (s.stage && s.stages) {
      const m = /\((.*)\)$/.exec(s.label);
      const names = m ? (m[1] === "read inputs" ? t("runs.read_inputs") : m[1]) : "";
      return t("runs.stage_label", { n: s.stage, of: s.stages, names: names });
    }
    return s.label === "write outputs" ? t("runs.write_outputs") : s.label;
  }

  /** The job's progress by stage (the pipeline's own report): records or items done of the
   * total, a bar, and an LLM step's calls, tokens and budget. */
  function showStages(detail) {
    const stages = (detail && detail.stages) || [];
    $("run-stages").hidden = stages.length === 0;
    $("run-stages-body").replaceChildren(...stages.map((s) => el("tr", {
      "data-testid": "run-stage", dataset: { state: s.state, label: s.label } },
      el("td", { class: s.depth ? "stage-inner" : null, "data-testid": "run-stage-label" },
        stageLabel(s)),
      el("td", { "data-testid": "run-stage-state" }, t("runs.stage_state." + s.state)),
      el("td", { class: "num", "data-testid": "run-stage-done" },
        (s.total === null || s.total === undefined
          ? fmtNum(s.done) : t("runs.done_of", { done: fmtNum(s.done), total: fmtNum(s.total) }))
        + " " + t("runs.unit." + s.unit)),
      el("td", {}, el("progress", { max: 1, value: s.fraction === null ? 0 : s.fraction })),
      el("td", { class: "num" }, s.state === "running" && s.eta !== null && s.eta !== undefined
        ? t("runs.eta", { s: fmtNum(Math.round(s.eta)) }) : ""),
      el("td", { "data-testid": "run-stage-llm" }, s.llm ? llmText(s) : ""))));
  }

  /** Follow a queued run to its end, then show what it did. */
  async function follow(run) {
    $("run-status").hidden = false;
    $("run-result").replaceChildren();
    showStages(null);
    const job = await waitJob(run.job_id, (j) => {
      $("run-progress").value = j.progress || 0;
      // the stages' table says in the page's language what the message line says in English
      const staged = j.detail && j.detail.stages && j.detail.stages.length;
      $("run-message").textContent = t("job.status." + j.status) + (j.message && !staged ? " · " + j.message : "");
      showStages(j.detail);
    });
    const done = await api("GET", "/api/runs/" + encodeURIComponent(run.id));
    if (job.status === "done") {
      const c = done.counts;
      const said = [el("p", { "data-testid": "run-summary" },
        t("runs.summary", { read: fmtNum(c.read), kept: fmtNum(c.kept), changed: fmtNum(c.changed),
          rejected: fmtNum(c.rejected), failed: fmtNum(c.failed), added: fmtNum(c.added), rows: fmtNum(c.rows) }))];
      if (c.not_generated) said.push(el("p", { "data-testid": "run-not-generated" }, t("runs.not_generated", { n: fmtNum(c.not_generated) })));
      $("run-result").replaceChildren(...said);
      toast(t("runs.done"));
    } else {
      $("run-result").replaceChildren(el("p", { class: "status-rejected", "data-testid": "run-failed-message" }, job.message || done.error || job.status));
    }
    await Promise.all([loadVersions(), loadRuns()]);
    if (done.version_id) $("run-version").value = done.version_id; // the next run starts from it
    if (done.has_rejects) await showRejects(run.id);
  }

  $("recipe-form").addEventListener("submit", handled(async (event) => {
    event.preventDefault();
    const run = await api("POST", base + "/runs", { recipe: $("recipe-text").value, version: $("run-version").value || "head" });
    Studio.clearError();
    await follow(run);
  }));

  function number(id) {
    const v = $(id).value.trim();
    return v === "" ? null : Number(v);
  }

  $("generate-form").addEventListener("submit", handled(async (event) => {
    event.preventDefault();
    const llm = {
      model: $("gen-model").value.trim() || null,
      max_tokens_budget: number("gen-budget"),
      max_cost: number("gen-cost"),
      concurrency: number("gen-concurrency"),
    };
    if ($("gen-connection").value) llm.connection = $("gen-connection").value;
    else {
      llm.base_url = $("gen-base-url").value.trim() || null;
      llm.api_key_env = $("gen-key-env").value.trim() || null;
    }
    for (const k of Object.keys(llm)) if (llm[k] === null) delete llm[k];
    const run = await api("POST", base + "/generate", { task: $("gen-task").value, version: $("run-version").value || "head", llm });
    Studio.clearError();
    await follow(run);
  }));

  $("connection-form").addEventListener("submit", handled(async (event) => {
    event.preventDefault();
    const settings = { base_url: $("conn-base-url").value.trim() };
    if ($("conn-model").value.trim()) settings.model = $("conn-model").value.trim();
    const secrets = $("conn-key").value ? { api_key: $("conn-key").value } : {};
    const saved = await api("POST", "/api/connections", { name: $("conn-name").value.trim(), kind: "llm", settings, secrets });
    $("conn-key").value = ""; // the key stays on the server; the page forgets it
    await loadConnections();
    $("gen-connection").value = saved.id;
    endpointFields();
    toast(t("runs.connection_saved"));
  }));

  $("gen-connection").addEventListener("change", () => {
    const chosen = $("gen-connection").selectedOptions[0];
    if (chosen && chosen.dataset.model && !$("gen-model").value) $("gen-model").value = chosen.dataset.model;
    endpointFields();
  });
  $("gen-task").addEventListener("change", endpointFields);

  endpointFields();
  Promise.all([loadVersions(), loadConnections(), loadRuns()]).then(() => (document.body.dataset.ready = "1"));
})();
