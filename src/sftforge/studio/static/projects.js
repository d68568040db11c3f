// Projects page: the projects with their datasets; create a project or a dataset.
"use strict";

(() => {
  const { api, el, t, fmtNum } = Studio;
  const list = document.getElementById("projects");

  async function load() {
    const projects = (await api("GET", "/api/projects")).projects;
    document.getElementById("projects-empty").hidden = projects.length > 0;
    const cards = await Promise.all(projects.map(card));
    list.replaceChildren(...cards);
  }

  async function card(project) {
    const datasets = (await api("GET", "/api/projects/" + encodeURIComponent(project.id))).datasets;
    const input = el("input", { "data-testid": "dataset-name", placeholder: t("projects.dataset_placeholder"), required: true, autocomplete: "off" });
    const form = el("form", { class: "row", "data-testid": "dataset-form" },
      el("label", {}, t("projects.new_dataset")), input,
      el("button", { type: "submit", "data-testid": "dataset-create" }, t("action.create")));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const ds = await api("POST", "/api/projects/" + encodeURIComponent(project.id) + "/datasets", { name: input.value.trim() });
      location.href = "/datasets/" + encodeURIComponent(ds.id) + "/import";
    });
    const items = datasets.map((ds) =>
      el("li", { "data-testid": "dataset-item" },
        el("a", { href: "/datasets/" + encodeURIComponent(ds.id), "data-testid": "dataset-link" }, ds.name),
        " ", el("span", { class: "muted" }, ds.rows !== undefined && ds.rows !== null ? t("projects.rows", { rows: fmtNum(ds.rows) }) : "")));
    return el("section", { class: "panel", "data-testid": "project", dataset: { id: project.id } },
      el("h2", { "data-testid": "project-title" }, project.name),
      items.length ? el("ul", {}, items) : el("p", { class: "muted" }, t("projects.no_datasets")),
      form);
  }

  document.getElementById("project-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = document.getElementById("project-name");
    await api("POST", "/api/projects", { name: name.value.trim() });
    name.value = "";
    await load();
  });

  load();
})();
