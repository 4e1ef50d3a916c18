// The search playground: what search/memory answers for a query, with each memory's
// relativity score and the instruction prompt, fast and fine memories side by side.

import { call } from "./api.js";
import { clear, enterSubmits, failure, h, pill, plural, said, when } from "./dom.js";

const FAST_TAG = "mode:fast";

export function renderSearch(panel, ctx) {
  const query = enterSubmits(h("textarea", {
    name: "query",
    rows: 3,
    required: true,
    placeholder: "The user's new message, e.g. 我国庆想出去玩，帮我推荐个城市",
    "aria-label": "Query",
  }));
  const number = (name, value, min, max, step = 1) =>
    h("input", { type: "number", name, value: String(value), min, max, step });
  const facts = number("memory_limit_number", 6, 0, 25);
  const prefs = number("preference_limit_number", 6, 0, 25);
  const relativity = number("relativity", 0, 0, 1, 0.05);
  const withPrefs = h("input", { type: "checkbox", name: "include_preference", checked: true });
  const results = h("div", { class: "results" });

  const form = h(
    "form",
    {
      class: "playground",
      onsubmit: async (event) => {
        event.preventDefault();
        clear(results, h("p", { class: "muted" }, "Searching…"));
        const started = performance.now();
        try {
          const data = await call("search/memory", {
            user_id: ctx.userId,
            query: query.value,
            memory_limit_number: Number(facts.value),
            preference_limit_number: Number(prefs.value),
            include_preference: withPrefs.checked,
            relativity: Number(relativity.value),
            return_instruction: true,
            return_full_instruction: true,
          });
          showResults(results, data, performance.now() - started);
        } catch (error) {
          failure(results, error);
        }
      },
    },
    query,
    h(
      "div",
      { class: "row wrap" },
      h("label", {}, "Facts ", facts),
      h("label", {}, "Preferences ", prefs),
      h("label", {}, "Min relativity ", relativity),
      h("label", {}, withPrefs, " include preferences"),
      h("button", { type: "submit" }, "Search"),
    ),
  );
  clear(panel, form, results);
  query.focus();
}

function showResults(el, data, ms) {
  const facts = data.memory_detail_list;
  const fast = facts.filter((m) => m.tags.includes(FAST_TAG));
  const fine = facts.filter((m) => !m.tags.includes(FAST_TAG));
  const factView =
    fast.length && fine.length
      ? h(
          "div",
          { class: "columns" },
          column("Fine memories (LLM)", fine, "fine"),
          column("Fast memories (raw turns)", fast, "fast"),
        )
      : column("Facts", facts, "facts");
  clear(
    el,
    h("p", { class: "muted small" }, `${plural(facts.length, "fact", "facts")}, ` +
      `${plural(data.preference_detail_list.length, "preference", "preferences")} ` +
      `in ${Math.round(ms)} ms`),
    factView,
    column("Preferences", data.preference_detail_list, "preferences"),
    data.preference_note ? said("p", data.preference_note, { class: "note" }) : null,
    h("h3", {}, "Instruction prompt"),
    said("pre", data.instruction ?? "", { class: "prompt", id: "instruction" }),
    h(
      "details",
      {},
      h("summary", {}, "Full instruction (a complete prompt for a model)"),
      said("pre", data.full_instruction ?? "", { class: "prompt" }),
    ),
    h(
      "details",
      {},
      h("summary", {}, "Raw response"),
      said("pre", JSON.stringify(data, null, 2), { class: "prompt" }),
    ),
  );
}

function column(title, items, name) {
  return h(
    "div",
    { class: "column", dataset: { column: name } },
    h("h3", {}, title, " ", h("span", { class: "muted small" }, String(items.length))),
    items.length ? items.map(result) : h("p", { class: "muted" }, "Nothing recalled."),
  );
}

function result(item) {
  const preference = "preference" in item;
  const text = preference ? item.preference : item.memory_value;
  return h(
    "div",
    { class: "result", dataset: { memoryId: item.id } },
    h(
      "div",
      { class: "card-head" },
      h("meter", { min: 0, max: 1, value: item.relativity, title: "relativity" }),
      h("span", { class: "score" }, item.relativity.toFixed(3)),
      pill(preference ? item.preference_type : item.memory_type),
      h("span", { class: "muted small" }, when(item.update_time)),
    ),
    preference ? null : said("strong", item.memory_key),
    said("p", text, { class: "memory-text" }),
    preference && item.reasoning ? said("p", item.reasoning, { class: "muted small" }) : null,
    h("div", { class: "tags" }, item.tags.map((t) => said("span", t, { class: "tag" }))),
  );
}
