// Review queue page (studio-review's /api/reviews): one item at a time, keyboard first.
// a accept, r reject (reason), f flag (reason), v verified — each decides the item and moves on to
// the next pending one; j/k next/previous; e opens the row's editor (the record page, back here
// after); u undoes the last decision. Progress for me, for the queue and per person; for a row an
// LLM answered, the model's suggestion is shown beside the row as it is now.
"use strict";

(() => {
  const { api, el, t, fmtNum, keys, toast, clearError } = Studio;
  const { queue_id: queueId } = JSON.parse(document.getElementById("page-ids").textContent);
  const base = "/api/reviews/queues/" + encodeURIComponent(queueId);
  const $ = (id) => document.getElementById(id);
  let queue = null;
  let step = null; // the answer of next/prev: {item, record, done, mine, gone?}
  let pendingReason = null;

  function showProgress(mine, progress) {
    $("mine").textContent = t("review.mine", { done: fmtNum(mine.done), assigned: fmtNum(mine.assigned), percent: mine.percent });
    $("mine-bar").value = mine.assigned ? mine.done / mine.assigned : 0;
    if (progress) {
      $("overall").textContent = t("review.overall", { done: fmtNum(progress.items_done), items: fmtNum(progress.items), percent: progress.percent });
      $("people").replaceChildren(...progress.by_person.map((p) => el("tr", { "data-testid": "progress-person" },
        el("td", {}, p.reviewer), el("td", { class: "num" }, fmtNum(p.assigned)), el("td", { class: "num" }, fmtNum(p.done)),
        el("td", { class: "num" }, fmtNum(p.accepted)), el("td", { class: "num" }, fmtNum(p.rejected)),
        el("td", { class: "num" }, fmtNum(p.flagged)), el("td", { class: "num" }, p.percent + "%"))));
    }
  }

  async function refreshProgress(mine) {
    const progress = await api("GET", base + "/progress");
    showProgress(mine || (step && step.mine) || { done: 0, assigned: 0, percent: 0 }, progress);
    if (queue.per_item >= 2) {
      const a = await api("GET", base + "/agreement", undefined, { quiet: true }).catch(() => null);
      if (a) {
        $("agreement").hidden = false;
        $("agreement").textContent = t("review.agreement", {
          items: fmtNum(a.items), percent: a.percent === null ? "–" : a.percent, kappa: a.kappa === null ? "–" : a.kappa,
        });
      }
    }
  }

  function renderItem() {
    const item = step.item;
    $("queue-done").hidden = !!item;
    $("item-view").hidden = !item;
    $("item-gone").hidden = !step.gone;
    $("item-gone").textContent = step.gone || "";
    if (!item) {
      $("item-row").textContent = "";
      $("item-status").textContent = "";
      return;
    }
    $("item-row").textContent = item.row_id;
    $("item-row").href = rowPage(item.row_id);
    $("item-status").className = "badge " + (item.status === "pending" ? "" : item.status);
    $("item-status").textContent = item.status === "pending" ? t("review.pending") : t("status." + item.status);
    $("item-status").dataset.status = item.status;
    $("item-position").textContent = t("review.position", { position: fmtNum(item.position + 1), items: fmtNum(queue.items) });
    const record = step.record;
    $("current").replaceChildren(record ? Conversation.render(record.row.sample) : el("p", { class: "muted" }, "—"));
    const suggestion = record && record.suggestion;
    $("suggestion-box").hidden = !suggestion;
    if (suggestion) {
      $("suggestion-agent").textContent = suggestion.agent ? "· " + suggestion.agent : "";
      $("suggestion").replaceChildren(Conversation.render({ messages: suggestion.messages || [] }));
    }
  }

  function rowPage(rowId) {
    return "/datasets/" + encodeURIComponent(queue.dataset_id) + "/rows/" + rowId.split("/").map(encodeURIComponent).join("/") + "?queue=" + encodeURIComponent(queueId);
  }

  async function go(path) {
    clearError();
    step = await api("GET", base + path);
    renderItem();
    showProgress(step.mine);
  }

  const position = () => (step && step.item ? step.item.position : -1);
  const next = () => go("/next?after=" + position());
  const prev = () => (position() > 0 ? go("/prev?before=" + position()) : null);

  async function decide(action, reason) {
    if (!step || !step.item || !step.record) return;
    const body = { row_id: step.item.row_id, action, base_revision: step.record.revision, reason: reason || null };
    const res = await api("POST", base + "/decisions", body);
    toast(t("review.decided", { action: t("review.action." + action) }));
    await refreshProgress(res.mine);
    await next();
  }

  function askReason(action) {
    if (!step || !step.item) return;
    pendingReason = action;
    $("reason-label").textContent = t(action === "reject" ? "record.reject_reason" : "record.flag_reason");
    $("reason-form").hidden = false;
    $("reason-input").value = "";
    $("reason-input").focus();
  }

  async function undo() {
    const res = await api("POST", base + "/undo");
    toast(t("record.undone"));
    await refreshProgress(res.mine);
    // back to the item whose decision was undone
    await go("/prev?pending=false&before=" + (res.item.position + 1));
  }

  $("next").addEventListener("click", next);
  $("prev").addEventListener("click", prev);
  $("accept").addEventListener("click", () => decide("accept"));
  $("reject").addEventListener("click", () => askReason("reject"));
  $("flag").addEventListener("click", () => askReason("flag"));
  $("verify").addEventListener("click", () => decide("verify"));
  $("edit").addEventListener("click", () => step && step.item && (location.href = rowPage(step.item.row_id) + "&edit=1"));
  $("undo").addEventListener("click", undo);
  $("reason-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const action = pendingReason;
    pendingReason = null;
    $("reason-form").hidden = true;
    await decide(action, $("reason-input").value.trim());
  });
  $("reason-cancel").addEventListener("click", () => ($("reason-form").hidden = true));
  $("reason-input").addEventListener("keydown", (event) => {
    if (event.key === "Escape") $("reason-form").hidden = true;
  });
  keys({
    j: next, k: prev, a: () => decide("accept"), r: () => askReason("reject"), f: () => askReason("flag"),
    v: () => decide("verify"), e: () => $("edit").click(), u: undo,
  });

  (async () => {
    queue = await api("GET", base);
    $("queue-name").textContent = queue.name;
    $("queue-dataset").href = "/datasets/" + encodeURIComponent(queue.dataset_id);
    await go("/next");
    await refreshProgress(step.mine);
    document.body.dataset.ready = "1";
  })();
})();
