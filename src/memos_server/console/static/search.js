// The search playground: what search/memory answers for a query, with each memory's
// relativity score and the instruction prompt, fast and fine memories side by side; with
// knowledge bases picked, their passages in a section of their own, as documents.

import { call } from "./api.js";
import { clear, enterSubmits, failure, h, pill, plural, said, when } from "./dom.js";

const FAST_TAG = "mode:fast";
const PASSAGE = "knowledgebase"; // a passage's `source` in memory_detail_list

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
  const passages = number("knowledgebase_limit_number", 6, 0, 25);
  const bases = h("fieldset", { class: "bases-pick row wrap", hidden: true });
  const results = h("div", { class: "results" });
  loadBases(bases, passages);

  const form = h(
    "form",
    {
      class: "playground",
      onsubmit: async (event) => {
        event.preventDefault();
        clear(results, h("p", { class: "muted" }, "Searching…"));
        const started = performance.now();
        const picked = [...bases.querySelectorAll('input[name="knowledgebase"]:checked')].map(
          (box) => box.value,
        );
        const request = {
          user_id: ctx.userId,
          query: query.value,
          memory_limit_number: Number(facts.value),
          preference_limit_number: Number(prefs.value),
          include_preference: withPrefs.checked,
          relativity: Number(relativity.value),
          return_instruction: true,
          return_full_instruction: true,
        };
        if (picked.length) {
          request.knowledgebase_ids = picked;
          request.knowledgebase_limit_number = Number(passages.value);
        }
        try {
          const data = await call("search/memory", request);
          showResults(results, data, performance.now() - started, picked.length > 0);
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
    bases,
  );
  clear(panel, form, results);
  query.focus();
}

// The project's knowledge bases, each a box to tick; none: the fieldset stays hidden.
async function loadBases(el, limit) {
  let data;
  try {
    data = await call("console/knowledgebases", { limit: 500 });
  } catch (error) {
    el.hidden = false;
    failure(el, error);
    return;
  }
  if (!data.knowledgebases.length) return;
  clear(
    el,
    h("legend", {}, "Include knowledge bases (their passages are shown apart, as documents)"),
    data.knowledgebases.map((base) =>
      h(
        "label",
        {},
        h("input", { type: "checkbox", name: "knowledgebase", value: base.id }),
        " ",
        said("span", base.name),
        h("span", { class: "muted small" }, ` (${plural(base.passages, "passage", "passages")})`),
      )),
    h("label", {}, "Passages ", limit),
  );
  el.hidden = false;
}

function showResults(el, data, ms, withDocuments) {
  const all = data.memory_detail_list;
  // Passages come after the memories in the same list (where the Cloud puts them): shown apart.
  const facts = all.filter((m) => m.source !== PASSAGE);
  const documents = all.filter((m) => m.source === PASSAGE);
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
      `${plural(data.preference_detail_list.length, "preference", "preferences")}` +
      (withDocuments ? `, ${plural(documents.length, "passage", "passages")}` : "") +
      ` in ${Math.round(ms)} ms`),
    factView,
    column("Preferences", data.preference_detail_list, "preferences"),
    withDocuments
      ? h(
          "div",
          { class: "column documents", dataset: { column: "documents" } },
          h(
            "h3",
            {},
            "Documents (knowledge bases, not said by the user) ",
            h("span", { class: "muted small" }, String(documents.length)),
          ),
          documents.length
            ? documents.map(passageResult)
            : h("p", { class: "muted" }, "No passage recalled."),
        )
      : null,
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

function passageResult(item) {
  const where = [`position ${item.position}`, item.page !== null ? `page ${item.page}` : null]
    .filter(Boolean)
    .join(" · ");
  return h(
    "div",
    { class: "result passage-result", dataset: { passageId: item.id, fileId: item.file_id } },
    h(
      "div",
      { class: "card-head" },
      h("meter", { min: 0, max: 1, value: item.relativity, title: "relativity" }),
      h("span", { class: "score" }, item.relativity.toFixed(3)),
      pill("document", "document"),
      said("strong", item.file_name, { class: "file-name" }),
      h("span", { class: "muted small source" }, where),
    ),
    item.heading ? said("p", item.heading, { class: "heading muted" }) : null,
    said("p", item.memory_value, { class: "memory-text" }),
  );
}
