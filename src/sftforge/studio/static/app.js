// sftforge studio: the helpers every page shares. Plain JS, no build step, no framework, no CDN.
// One fetch wrapper (JSON in and out, the CSRF header on unsafe methods, the one error shape
// {"error": {"code", "message", "field", "hint"}} shown in the page), i18n lookup, DOM helpers,
// keyboard shortcuts and job polling.
"use strict";

const Studio = (() => {
  const dataNode = document.getElementById("i18n-data");
  const dict = dataNode ? JSON.parse(dataNode.textContent || "{}") : {};

  /** The UI string for `key` in the page's language, `{name}` placeholders filled from `vars`. */
  function t(key, vars) {
    let s = Object.prototype.hasOwnProperty.call(dict, key) ? dict[key] : key;
    if (vars) {
      for (const [k, v] of Object.entries(vars)) s = s.split("{" + k + "}").join(String(v));
    }
    return s;
  }

  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") || "" : "";
  }

  /** An API failure: the server's one error shape, or one made up for a network failure. */
  class ApiError extends Error {
    constructor(status, error) {
      super(error.message || "error");
      this.status = status;
      this.code = error.code || "error";
      this.field = error.field || null;
      this.hint = error.hint || null;
    }
  }

  const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

  /**
   * Calls an API endpoint. `body`: a plain object (sent as JSON), or a Blob/FormData/ArrayBuffer
   * (sent as is). Resolves to the parsed JSON (null for an empty body); rejects with ApiError,
   * which is also shown in the page's error banner unless `opts.quiet`.
   */
  async function api(method, url, body, opts) {
    opts = opts || {};
    const headers = Object.assign({ Accept: "application/json" }, opts.headers || {});
    let payload;
    if (body instanceof FormData || body instanceof Blob || body instanceof ArrayBuffer) {
      payload = body;
    } else if (body !== undefined && body !== null) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    if (UNSAFE.has(method)) {
      const token = csrfToken();
      if (token) headers["X-CSRF-Token"] = token;
    }
    let resp;
    try {
      resp = await fetch(url, { method, headers, body: payload, credentials: "same-origin" });
    } catch (e) {
      const err = new ApiError(0, { code: "network", message: t("error.network") });
      if (!opts.quiet) showError(err);
      throw err;
    }
    const text = await resp.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (e) {
        data = null;
      }
    }
    if (!resp.ok) {
      const shaped = data && typeof data === "object" && data.error && data.error.message;
      const err = new ApiError(
        resp.status,
        shaped ? data.error : { code: "http_" + resp.status, message: (text || resp.statusText).slice(0, 300) }
      );
      if (!opts.quiet) showError(err);
      throw err;
    }
    return data;
  }

  /** Shows an ApiError (or any Error) in the banner at the top of the page. */
  function showError(err) {
    const box = document.getElementById("error-banner");
    if (!box) return;
    const parts = [
      el("span", { class: "error-code", "data-testid": "error-code" }, err.code || "error"),
      el("span", { class: "error-message", "data-testid": "error-message" }, err.message || String(err)),
      err.field ? el("span", { class: "error-field", "data-testid": "error-field" }, t("error.field") + ": " + err.field) : null,
      err.hint ? el("span", { class: "error-hint", "data-testid": "error-hint" }, t("error.hint") + ": " + err.hint) : null,
      el("button", { class: "link", "data-testid": "error-close", onclick: clearError }, "×"),
    ];
    box.replaceChildren(...parts.filter(Boolean));
    box.hidden = false;
  }

  function clearError() {
    const box = document.getElementById("error-banner");
    if (box) {
      box.hidden = true;
      box.replaceChildren();
    }
  }

  /** A short message that fades away by itself. */
  function toast(message) {
    const box = document.getElementById("toast");
    if (!box) return;
    box.textContent = message;
    box.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => (box.hidden = true), 2500);
  }

  /** el("td", {class: "x", "data-testid": "y", onclick: fn}, child, "text", ...): a DOM node. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
      else if (k === "dataset") Object.assign(node.dataset, v);
      else if (v === true) node.setAttribute(k, "");
      else node.setAttribute(k, String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  /** A query string from an object, skipping empty values. */
  function query(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) {
      if (v === null || v === undefined || v === "") continue;
      q.set(k, String(v));
    }
    const s = q.toString();
    return s ? "?" + s : "";
  }

  function fmtNum(n) {
    if (n === null || n === undefined) return "";
    return typeof n === "number" ? n.toLocaleString(document.documentElement.lang) : String(n);
  }

  function fmtTime(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    return isNaN(d) ? String(iso) : d.toLocaleString(document.documentElement.lang);
  }

  /** True while the user types in a field: single-key shortcuts must not fire then. */
  function typing(event) {
    const target = event.target;
    if (!target || !target.tagName) return false;
    return (
      target.isContentEditable ||
      target.tagName === "TEXTAREA" ||
      target.tagName === "SELECT" ||
      (target.tagName === "INPUT" && !["checkbox", "radio", "button"].includes(target.type))
    );
  }

  /** Single-key shortcuts: {"j": fn, "k": fn}; ignored while typing or with Ctrl/Alt/Meta. */
  function keys(map) {
    document.addEventListener("keydown", (event) => {
      if (event.ctrlKey || event.altKey || event.metaKey || typing(event)) return;
      const fn = map[event.key];
      if (fn) {
        event.preventDefault();
        fn(event);
      }
    });
  }

  /** Polls /api/jobs/{id} until it is done or failed; `onProgress(job)` on each answer. */
  async function waitJob(jobId, onProgress, intervalMs) {
    for (;;) {
      const job = await api("GET", "/api/jobs/" + encodeURIComponent(jobId));
      if (onProgress) onProgress(job);
      if (["done", "failed", "error", "cancelled"].includes(job.status)) return job;
      await new Promise((r) => setTimeout(r, intervalMs || 300));
    }
  }

  function setLanguage(lang) {
    document.cookie = "sftforge_lang=" + encodeURIComponent(lang) + "; path=/; max-age=31536000; SameSite=Lax";
    location.reload();
  }

  document.addEventListener("DOMContentLoaded", () => {
    const switcher = document.getElementById("lang-switch");
    if (switcher) switcher.addEventListener("change", () => setLanguage(switcher.value));
  });

  return { t, api, ApiError, showError, clearError, toast, el, query, fmtNum, fmtTime, keys, typing, waitJob, setLanguage };
})();
