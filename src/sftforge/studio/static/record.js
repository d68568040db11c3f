// Record page: one row as a conversation, its lineage and change history; the editor (turns,
// roles, system prompt, tools; add, delete, reorder, split turns); accept / reject / flag with a
// reason; human verified; tags and score; undo. Keyboard first: j/k next/previous, a accept,
// r reject, f flag, v verified, e edit, u undo, t tags; in the editor Ctrl+Enter saves, Esc cancels.
// Every change is an edit on the server (attributed, undoable) sent with the revision it was made
// on: a stale revision gets 409 conflict and the page reloads the row instead of overwriting.
"use strict";

(() => {
  const { api, el, t, fmtTime, query, keys, toast, clearError } = Studio;
  const ids = JSON.parse(document.getElementById("page-ids").textContent);
  const datasetId = ids.dataset_id;
  const rowId = ids.row_id;
  const version = new URL(location.href).searchParams.get("version") || "";
  const dsBase = "/api/datasets/" + encodeURIComponent(datasetId);
  // the id may hold ':' and '/' (``file.json:12``): each path segment is encoded, the slashes kept
  const rowUrl = dsBase + "/rows/" + rowId.split("/").map(encodeURIComponent).join("/");
  const ROLES = ["system", "user", "assistant", "tool"];
  const ACTIONS = { sample: "edit.sample", status: "edit.status", delete: "edit.delete", undo: "edit.undo" };
  const $ = (id) => document.getElementById(id);

  let record = null; // the server's answer: {row_id, sample, revision, status, ...}
  let readOnly = false; // a row of an older version: shown as stored, never changed
  // opened from a double-review queue: the row as this reviewer may see it (their own edit,
  // nothing of the other reviewer's), and an edit is their draft in the queue (blind review)
  let blind = false;
  const params = new URL(location.href).searchParams;
  const queueId = params.get("queue");
  const rowPath = rowId.split("/").map(encodeURIComponent).join("/");
  let turns = []; // the editor's working copy of the non-system messages
  let pendingReason = null; // "rejected" | "flagged" while the reason form is open
  let rawOriginal = ""; // the sample's JSON when the editor opened (changed: it is what is saved)

  // --- reading ---------------------------------------------------------------------------
  async function load() {
    // the row of the version being browsed; an older version's answer is read_only (edits go
    // to the head only), and its page offers the head's row instead of actions
    if (queueId && !version) {
      const got = await api("GET", "/api/reviews/queues/" + encodeURIComponent(queueId) + "/items/" + rowPath, undefined, { quiet: true }).catch(() => null);
      if (got && got.per_item >= 2) {
        blind = true;
        record = Object.assign({}, got.record.row, { revision: got.record.revision, version: got.record.version_id, edits: [] });
        showReadOnly();
        render();
        return;
      }
    }
    const answer = await api("GET", rowUrl + query({ version }));
    readOnly = !!answer.read_only;
    const edits = readOnly ? { edits: [] } : await api("GET", dsBase + "/edits?limit=5000");
    record = Object.assign({}, answer.row, { revision: answer.revision, version: answer.version_id });
    record.edits = edits.edits.filter((e) => e.row_id === rowId);
    showReadOnly();
    render();
  }

  function showReadOnly() {
    const limited = readOnly || blind;
    $("read-only").hidden = !limited;
    $("actions").querySelectorAll("button").forEach((b) => { b.hidden = limited && !(blind && b.id === "edit"); });
    $("labels-form").hidden = limited;
    if (readOnly) {
      $("read-only-text").textContent = t("record.read_only", { version: record.version });
      $("open-head").href = location.pathname;
    } else if (blind) {
      $("read-only-text").textContent = t("record.blind");
      $("open-head").textContent = t("record.back_to_queue");
      $("open-head").href = "/queues/" + encodeURIComponent(queueId);
    }
  }

  function sampleOf(rec) {
    return typeof rec.sample === "string" ? JSON.parse(rec.sample) : rec.sample;
  }

  function render() {
    const sample = sampleOf(record);
    $("view").replaceChildren(Conversation.render(sample));
    const status = record.status || "";
    const badge = $("status-badge");
    badge.className = "badge " + status;
    badge.textContent = t("status." + (status || "none"));
    badge.dataset.status = status;
    $("verified-badge").hidden = !record.human_verified;
    $("verify").textContent = "";
    $("verify").append(t(record.human_verified ? "action.unverify" : "action.verify") + " ", el("kbd", {}, "v"));
    $("reason").textContent = record.reason || "";
    $("tags-input").value = (record.tags || []).join(", ");
    $("score-input").value = record.score === null || record.score === undefined ? "" : String(record.score);
    renderLineage();
    renderHistory();
    renderPosition();
  }

  function renderLineage() {
    const fields = ["src", "src_line", "made_by", "model", "prompt", "edited_by", "edited_at"];
    const items = [];
    for (const f of fields) {
      const v = record[f];
      if (v === null || v === undefined || v === "") continue;
      items.push(el("dt", {}, t("lineage." + f)), el("dd", { "data-testid": "lineage-" + f }, f === "edited_at" ? fmtTime(v) : String(v)));
    }
    if (record.version) items.push(el("dt", {}, t("lineage.version")), el("dd", {}, record.version));
    if (record.revision !== undefined && record.revision !== null) items.push(el("dt", {}, t("lineage.revision")), el("dd", { "data-testid": "revision" }, String(record.revision)));
    $("lineage").replaceChildren(...items);
  }

  function renderHistory() {
    const edits = record.edits || [];
    if (!edits.length) {
      $("history").replaceChildren(el("li", { class: "muted" }, t("record.no_history")));
      return;
    }
    $("history").replaceChildren(...edits.map((e) => el("li", { "data-testid": "history-item", class: e.undone_by ? "muted" : "" },
      t(ACTIONS[e.kind] || e.kind) + describe(e) + " · " + (e.user || "") + " · " + fmtTime(e.at) + (e.undone_by ? " · " + t("record.undone_mark") : ""))));
  }

  /** What a review change set, e.g. " → rejected (too vague)". */
  function describe(e) {
    if (e.kind !== "status" || !e.after) return "";
    const parts = [];
    if (e.after.status !== undefined && (!e.before || e.before.status !== e.after.status)) parts.push(t("status." + (e.after.status || "none")));
    if (e.after.human_verified !== undefined && (!e.before || e.before.human_verified !== e.after.human_verified)) parts.push(e.after.human_verified ? t("record.verified") : t("action.unverify"));
    if (e.after.reason) parts.push("(" + e.after.reason + ")");
    return parts.length ? " → " + parts.join(" ") : "";
  }

  // --- j/k: the neighbours from the browse page's list -------------------------------------
  function nav() {
    try {
      return JSON.parse(sessionStorage.getItem("studio.nav." + datasetId) || "null");
    } catch (e) {
      return null;
    }
  }

  function renderPosition() {
    const n = nav();
    if (!n) return;
    const i = n.ids.indexOf(rowId);
    if (i >= 0) $("position").textContent = t("record.position", { index: n.offset + i + 1, total: n.total });
  }

  async function go(delta) {
    const n = nav();
    if (!n) return;
    let i = n.ids.indexOf(rowId);
    if (i < 0) return;
    i += delta;
    if (i < 0 || i >= n.ids.length) {
      // the next or previous page of the same query
      const offset = n.offset + (delta > 0 ? n.ids.length : -50);
      if (offset < 0 || offset >= n.total) {
        toast(t("record.end"));
        return;
      }
      const sep = n.query.includes("?") ? "&" : "?";
      const page = await api("GET", n.rows + n.query + sep + "offset=" + offset + "&limit=50");
      n.ids = page.rows.map((r) => r.row_id);
      n.offset = offset;
      i = delta > 0 ? 0 : n.ids.length - 1;
      sessionStorage.setItem("studio.nav." + datasetId, JSON.stringify(n));
    }
    location.href = "/datasets/" + encodeURIComponent(datasetId) + "/rows/" + encodeURIComponent(n.ids[i]) + query({ version });
  }

  // --- changes -----------------------------------------------------------------------------
  /** Sends one change (a new sample, or a review change); on a conflict the row is reloaded
   * (the banner says why), so nothing is overwritten silently. */
  async function change(body) {
    if (readOnly || (blind && !body.sample)) return;
    clearError();
    try {
      if (blind) {
        await api("POST", "/api/reviews/queues/" + encodeURIComponent(queueId) + "/decisions",
          { row_id: rowId, action: "edit", base_revision: record.revision, sample: body.sample });
      } else if (body.sample) await api("PUT", rowUrl, { sample: body.sample, base_revision: record.revision });
      else await api("POST", dsBase + "/review", Object.assign({ row_id: rowId, base_revision: record.revision }, body));
    } catch (err) {
      if (err.status === 409) await load();
      throw err;
    }
    await load();
    toast(t("record.saved"));
  }

  function setStatus(status, reason) {
    return change(reason === undefined ? { status, reason: null } : { status, reason });
  }

  function askReason(status) {
    if (readOnly || blind) return;
    pendingReason = status;
    $("reason-label").textContent = t(status === "rejected" ? "record.reject_reason" : "record.flag_reason");
    $("reason-form").hidden = false;
    $("reason-input").value = "";
    $("reason-input").focus();
  }

  /** Undoes this row's newest change that is still in effect (an undo is itself undoable only
   * by a new change). */
  async function undo() {
    if (readOnly || blind) return;
    clearError();
    const last = (record.edits || []).find((e) => e.kind !== "undo" && !e.undone_by);
    if (!last) {
      toast(t("record.nothing_to_undo"));
      return;
    }
    await api("POST", dsBase + "/edits/" + encodeURIComponent(last.id) + "/undo");
    await load();
    toast(t("record.undone"));
  }

  // --- the editor ----------------------------------------------------------------------------
  function openEditor() {
    if (readOnly) return;
    const sample = sampleOf(record);
    const messages = sample.messages || [];
    const hasSystem = messages.length && messages[0].role === "system";
    $("ed-system").value = hasSystem ? messages[0].content : "";
    turns = (hasSystem ? messages.slice(1) : messages).map((m) => Object.assign({}, m));
    $("ed-tools").value = sample.tools ? JSON.stringify(sample.tools, null, 2) : "";
    rawOriginal = JSON.stringify(sample, null, 2);
    $("ed-raw").value = rawOriginal;
    $("ed-raw-box").open = false;
    renderTurns();
    $("view").hidden = true;
    $("editor").hidden = false;
    const first = $("ed-turns").querySelector("textarea");
    if (first) first.focus();
  }

  function closeEditor() {
    // the field that had the focus lets go of it now: hidden, it kept it until the browser's
    // next focus fix-up, and a shortcut typed at once (Ctrl+Enter, then "f") went to the field
    const focused = document.activeElement;
    if (focused && $("editor").contains(focused)) focused.blur();
    $("editor").hidden = true;
    $("view").hidden = false;
  }

  function syncFromInputs() {
    $("ed-turns").querySelectorAll("[data-testid=editor-turn]").forEach((box, i) => {
      turns[i].role = box.querySelector("select").value;
      turns[i].content = box.querySelector("textarea.content").value;
      const reasoning = box.querySelector("textarea.reasoning");
      if (reasoning) turns[i].reasoning = reasoning.value || null;
      const calls = box.querySelector("textarea.calls");
      if (calls) turns[i].tool_calls = calls.value.trim() ? JSON.parse(calls.value) : null;
    });
  }

  function renderTurns() {
    $("ed-turns").replaceChildren(...turns.map((m, i) => {
      const role = el("select", { "data-testid": "turn-role-select", "aria-label": t("editor.role") },
        ROLES.map((r) => el("option", { value: r, selected: r === m.role }, t("role." + r))));
      const content = el("textarea", { class: "content", rows: Math.min(12, Math.max(3, String(m.content || "").split("\n").length + 1)), "data-testid": "turn-content-input", "aria-label": t("editor.content") });
      content.value = m.content || "";
      const parts = [
        el("div", { class: "row" }, el("strong", {}, "#" + (i + 1)), role, el("span", { class: "grow" }),
          el("button", { type: "button", "data-testid": "turn-up", title: t("editor.up"), disabled: i === 0, onclick: () => moveTurn(i, -1) }, "↑"),
          el("button", { type: "button", "data-testid": "turn-down", title: t("editor.down"), disabled: i === turns.length - 1, onclick: () => moveTurn(i, 1) }, "↓"),
          el("button", { type: "button", "data-testid": "turn-split", title: t("editor.split"), onclick: () => splitTurn(i) }, "✂ " + t("editor.split")),
          el("button", { type: "button", class: "danger", "data-testid": "turn-delete", title: t("editor.delete"), onclick: () => deleteTurn(i) }, "✕")),
        content,
      ];
      if (m.reasoning) {
        const r = el("textarea", { class: "reasoning", rows: 3, "data-testid": "turn-reasoning-input", "aria-label": t("editor.reasoning") });
        r.value = m.reasoning;
        parts.push(el("label", { class: "muted" }, t("editor.reasoning")), r);
      }
      if (m.tool_calls) {
        const c = el("textarea", { class: "calls mono", rows: 3, "data-testid": "turn-calls-input" });
        c.value = JSON.stringify(m.tool_calls, null, 2);
        parts.push(el("label", { class: "muted" }, t("record.tool_call")), c);
      }
      return el("div", { class: "editor-turn", "data-testid": "editor-turn", dataset: { index: String(i) } }, parts);
    }));
  }

  function moveTurn(i, delta) {
    syncFromInputs();
    const j = i + delta;
    if (j < 0 || j >= turns.length) return;
    [turns[i], turns[j]] = [turns[j], turns[i]];
    renderTurns();
  }

  function deleteTurn(i) {
    syncFromInputs();
    turns.splice(i, 1);
    renderTurns();
  }

  function splitTurn(i) {
    syncFromInputs();
    const area = $("ed-turns").children[i].querySelector("textarea.content");
    const at = area.selectionStart || 0;
    const text = turns[i].content || "";
    if (at <= 0 || at >= text.length) return;
    const second = { role: turns[i].role, content: text.slice(at).trimStart() };
    turns[i] = Object.assign({}, turns[i], { content: text.slice(0, at).trimEnd() });
    turns.splice(i + 1, 0, second);
    renderTurns();
  }

  function addTurn() {
    syncFromInputs();
    const last = turns.length ? turns[turns.length - 1].role : "assistant";
    turns.push({ role: last === "user" ? "assistant" : "user", content: "" });
    renderTurns();
    const areas = $("ed-turns").querySelectorAll("textarea.content");
    areas[areas.length - 1].focus();
  }

  async function saveEditor(event) {
    if (event) event.preventDefault();
    if ($("ed-raw").value !== rawOriginal) {
      // every field of the sample (meta, label, the rejected answer ...), as JSON
      let edited;
      try {
        edited = JSON.parse($("ed-raw").value);
      } catch (e) {
        Studio.showError({ code: "invalid", message: t("editor.bad_json", { problem: e.message }), field: "sample" });
        return;
      }
      await change({ sample: edited });
      closeEditor();
      return;
    }
    syncFromInputs();
    const sample = sampleOf(record);
    let tools = null;
    const toolsText = $("ed-tools").value.trim();
    if (toolsText) {
      try {
        tools = JSON.parse(toolsText);
        if (!Array.isArray(tools)) throw new Error("not a list");
      } catch (e) {
        Studio.showError({ code: "invalid", message: t("editor.bad_tools", { problem: e.message }), field: "tools" });
        return;
      }
    }
    const system = $("ed-system").value;
    const messages = (system.trim() ? [{ role: "system", content: system }] : []).concat(turns);
    const edited = Object.assign({}, sample, { messages });
    if (tools) edited.tools = tools;
    else delete edited.tools;
    await change({ sample: edited });
    closeEditor();
  }

  // --- wiring ----------------------------------------------------------------------------------
  $("accept").addEventListener("click", () => setStatus("accepted"));
  $("reject").addEventListener("click", () => askReason("rejected"));
  $("flag").addEventListener("click", () => askReason("flagged"));
  $("verify").addEventListener("click", () => change({ human_verified: !record.human_verified }));
  $("edit").addEventListener("click", openEditor);
  $("undo").addEventListener("click", undo);
  $("prev-row").addEventListener("click", () => go(-1));
  $("next-row").addEventListener("click", () => go(1));
  $("ed-add").addEventListener("click", addTurn);
  $("ed-cancel").addEventListener("click", closeEditor);
  $("editor").addEventListener("submit", saveEditor);
  // on the document, not the form: after a reorder the focused button is re-rendered away
  document.addEventListener("keydown", (event) => {
    if ($("editor").hidden) return;
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) saveEditor(event);
    else if (event.key === "Escape") closeEditor();
  });
  $("reason-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const status = pendingReason;
    $("reason-form").hidden = true;
    pendingReason = null;
    await setStatus(status, $("reason-input").value.trim());
  });
  $("labels-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const tags = $("tags-input").value.split(/[,，]/).map((x) => x.trim()).filter(Boolean);
    const score = $("score-input").value.trim();
    await change({ tags, score: score === "" ? null : Number(score) });
    $("tags-input").blur();
  });
  $("reason-cancel").addEventListener("click", () => {
    $("reason-form").hidden = true;
    pendingReason = null;
  });
  $("reason-input").addEventListener("keydown", (event) => {
    if (event.key === "Escape") $("reason-form").hidden = true;
  });

  const editing = () => !$("editor").hidden;
  keys({
    j: () => !editing() && go(1),
    k: () => !editing() && go(-1),
    a: () => !editing() && setStatus("accepted"),
    r: () => !editing() && askReason("rejected"),
    f: () => !editing() && askReason("flagged"),
    v: () => !editing() && change({ human_verified: !record.human_verified }),
    e: () => !editing() && openEditor(),
    u: () => !editing() && undo(),
    t: () => !editing() && $("tags-input").focus(),
  });

  // opened from a review queue: a way back to it, and "e" there opens the editor here at once
  if (queueId) {
    const back = $("back-to-browse");
    back.href = "/queues/" + encodeURIComponent(queueId);
    back.textContent = "‹ " + t("record.back_to_queue");
  }

  load().then(() => {
    if (params.get("edit") === "1") openEditor();
    document.body.dataset.ready = "1";
  });
})();
