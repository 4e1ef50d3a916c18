// The Profile tab: the user's profiles (one per bound template), field by field, read through
// the public API (get/memory's profile_detail_list; list/profile_template for the names).

import { call } from "./api.js";
import { clear, failure, h, pill, plural, said } from "./dom.js";

const TEMPLATE_PAGE = 100;

// {"基本信息": {"职业": {value, algorithm_updatable}}} → [["基本信息.职业", leaf], ...]
function leaves(node, path = []) {
  return Object.entries(node).flatMap(([name, child]) =>
    child && typeof child === "object" && "value" in child && typeof child.value !== "object"
      ? [[[...path, name].join("."), child]]
      : leaves(child ?? {}, [...path, name]),
  );
}

function card(profile, names) {
  const fields = leaves(profile.properties);
  const name = names.get(profile.profile_template_id) ?? profile.profile_template_id;
  const rows = fields.map(([path, leaf]) =>
    h(
      "tr",
      { dataset: { path } },
      h("td", {}, said("span", path)),
      h("td", {}, leaf.value ? said("span", leaf.value) : h("span", { class: "muted" }, "—")),
      h(
        "td",
        {},
        leaf.algorithm_updatable
          ? pill("model may update")
          : pill("locked", "locked"),
      ),
    ),
  );
  return h(
    "section",
    { class: "card profile", dataset: { template: profile.profile_template_id } },
    h(
      "h3",
      {},
      said("span", name),
      " ",
      h("span", { class: "muted small" }, `${profile.profile_template_id} · updated ${profile.updated_at}`),
    ),
    fields.length
      ? h(
          "table",
          { class: "fields" },
          h("thead", {}, h("tr", {}, h("th", {}, "Field"), h("th", {}, "Value"), h("th", {}, ""))),
          h("tbody", {}, rows),
        )
      : h("p", { class: "muted" }, "No fields."),
  );
}

export function renderProfile(panel, ctx) {
  const summary = h("span", { class: "muted" });
  const body = h("div");
  clear(
    panel,
    h(
      "div",
      { class: "toolbar" },
      h("button", { type: "button", class: "quiet", onclick: () => load() }, "Refresh"),
      summary,
    ),
    body,
  );

  async function load() {
    clear(body, h("p", { class: "muted" }, "Loading…"));
    let profiles;
    let templates;
    try {
      [profiles, templates] = await Promise.all([
        call("get/memory", {
          user_id: ctx.userId,
          size: 1,
          include_memory_view: ["profile"],
        }).then((data) => data.profile_detail_list ?? []),
        call("list/profile_template", { page: 1, size: TEMPLATE_PAGE }).then(
          (data) => data.profile_templates,
        ),
      ]);
    } catch (error) {
      failure(body, error);
      return;
    }
    const names = new Map(templates.map((t) => [t.profile_template_id, t.name]));
    summary.textContent = plural(profiles.length, "profile", "profiles");
    clear(
      body,
      profiles.length
        ? profiles.map((profile) => card(profile, names))
        : h(
            "p",
            { class: "muted" },
            "No profile: bind a profile template to this user (bind/profile_template).",
          ),
    );
  }

  load();
}
