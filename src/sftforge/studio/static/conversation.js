// Renders a Sample (its to_dict form) as a conversation: markdown with code blocks, tool calls and
// tool results, reasoning (<think> blocks or the message's `reasoning`) folded in <details>.
// Markdown is a small safe subset: the text is HTML-escaped first, so nothing in a record can
// inject markup or script; links are kept only for http(s) addresses.
"use strict";

const Conversation = (() => {
  const { el, t } = Studio;

  function escapeHtml(s) {
    return String(s)
      .replace(/&/g, "&amp;")
      .replace(/</g, "&lt;")
      .replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;")
      .replace(/'/g, "&#39;");
  }

  function inline(escaped) {
    // code spans first, kept apart so their content is not formatted
    const spans = [];
    let s = escaped.replace(/`([^`\n]+)`/g, (_, code) => {
      spans.push("<code>" + code + "</code>");
      return "\u0000" + (spans.length - 1) + "\u0000";
    });
    s = s
      .replace(/\*\*([^*\n]+)\*\*/g, "<strong>$1</strong>")
      .replace(/(^|[^*])\*([^*\n]+)\*/g, "$1<em>$2</em>")
      .replace(/\[([^\]\n]+)\]\((https?:\/\/[^\s)]+)\)/g, '<a href="$2" rel="noopener noreferrer" target="_blank">$1</a>');
    return s.replace(/\u0000(\d+)\u0000/g, (_, i) => spans[Number(i)]);
  }

  /** Markdown text -> an element (safe: everything is escaped before any markup is added). */
  function markdown(text) {
    const out = [];
    const lines = String(text || "").split("\n");
    let i = 0;
    let para = [];
    const flush = () => {
      if (para.length) out.push("<p>" + para.map((l) => inline(escapeHtml(l))).join("<br>") + "</p>");
      para = [];
    };
    while (i < lines.length) {
      const line = lines[i];
      const fence = line.match(/^\s*```\s*([\w+-]*)\s*$/);
      if (fence) {
        flush();
        const body = [];
        i++;
        while (i < lines.length && !/^\s*```\s*$/.test(lines[i])) body.push(lines[i++]);
        i++; // the closing fence (or the end)
        const lang = fence[1] ? ' data-lang="' + escapeHtml(fence[1]) + '"' : "";
        out.push('<pre class="code"' + lang + "><code>" + escapeHtml(body.join("\n")) + "</code></pre>");
        continue;
      }
      const heading = line.match(/^(#{1,6})\s+(.*)$/);
      if (heading) {
        flush();
        const level = Math.min(heading[1].length + 2, 6); // h3..h6 inside a turn
        out.push("<h" + level + ">" + inline(escapeHtml(heading[2])) + "</h" + level + ">");
        i++;
        continue;
      }
      const bullet = /^\s*[-*+]\s+/;
      const numbered = /^\s*\d+[.)]\s+/;
      if (bullet.test(line) || numbered.test(line)) {
        flush();
        const ordered = numbered.test(line);
        const re = ordered ? numbered : bullet;
        const items = [];
        while (i < lines.length && re.test(lines[i])) items.push(lines[i++].replace(re, ""));
        const tag = ordered ? "ol" : "ul";
        out.push("<" + tag + ">" + items.map((it) => "<li>" + inline(escapeHtml(it)) + "</li>").join("") + "</" + tag + ">");
        continue;
      }
      if (!line.trim()) {
        flush();
        i++;
        continue;
      }
      para.push(line);
      i++;
    }
    flush();
    const div = el("div", { class: "md" });
    div.innerHTML = out.join("");
    return div;
  }

  /** Splits `<think>...</think>` blocks out of a content string: [reasoning parts, answer]. */
  function splitThink(content) {
    const thoughts = [];
    const answer = String(content || "").replace(/<think>([\s\S]*?)(<\/think>|$)/g, (_, body) => {
      thoughts.push(body.trim());
      return "";
    });
    return [thoughts, answer.trim()];
  }

  function thinkBlock(text) {
    return el(
      "details",
      { class: "think", "data-testid": "think" },
      el("summary", {}, t("record.reasoning")),
      markdown(text)
    );
  }

  function jsonBlock(value) {
    let text;
    if (typeof value === "string") {
      try {
        text = JSON.stringify(JSON.parse(value), null, 2);
      } catch (e) {
        text = value;
      }
    } else {
      text = JSON.stringify(value, null, 2);
    }
    return el("pre", { class: "code json" }, el("code", {}, text));
  }

  /** One turn as a bubble: role, reasoning folded, content, tool calls. */
  function turn(message, index) {
    const role = message.role;
    const [thoughts, answer] = splitThink(message.content);
    if (message.reasoning) thoughts.unshift(message.reasoning);
    const body = [];
    for (const th of thoughts) body.push(thinkBlock(th));
    if (role === "tool") {
      body.push(el("div", { class: "tool-result", "data-testid": "tool-result" },
        el("span", { class: "label" }, t("record.tool_result") + (message.name ? " · " + message.name : "")),
        jsonBlock(answer)));
    } else if (answer) {
      body.push(markdown(answer));
    }
    for (const call of message.tool_calls || []) {
      body.push(el("div", { class: "tool-call", "data-testid": "tool-call" },
        el("span", { class: "label" }, t("record.tool_call") + " · " + call.name),
        jsonBlock(call.arguments || {})));
    }
    return el(
      "div",
      { class: "turn role-" + role, "data-testid": "turn", dataset: { index: String(index), role } },
      el("div", { class: "turn-role", "data-testid": "turn-role" }, t("role." + role)),
      el("div", { class: "turn-body", "data-testid": "turn-content" }, body)
    );
  }

  /** The whole sample: tools (if any), then each turn; the losing answer of preference data. */
  function render(sample) {
    const parts = [];
    if (sample.tools && sample.tools.length) {
      parts.push(el("details", { class: "tools", "data-testid": "tools-view" },
        el("summary", {}, t("record.tools") + " (" + sample.tools.length + ")"),
        jsonBlock(sample.tools)));
    }
    (sample.messages || []).forEach((m, i) => parts.push(turn(m, i)));
    if (sample.rejected) {
      parts.push(el("div", { class: "rejected-answer" },
        el("div", { class: "label" }, t("record.rejected_answer")), turn(sample.rejected, -1)));
    }
    return el("div", { class: "conversation", "data-testid": "conversation" }, parts);
  }

  return { render, markdown, splitThink, escapeHtml };
})();
