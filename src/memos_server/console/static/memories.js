// The Memories tab: a user's facts and preferences, archived ones too, with their history;
// edit, archive or restore, and delete, all through the public API.

import { call } from "./api.js";
import { clear, confirmButton, failure, h, pill, plural, said, when } from "./dom.js";
import { showHistory } from "./history.js";

const PAGE_SIZE = 50;

export function typeOf(memory) {
  return memory.kind === "preference" ? memory.preference_type : memory.memory_type;
}

export function renderMemories(panel, ctx) {
  const filters = { status: "all", kind: "all", page: 1 };
  const summary = h("span", { class: "muted" });
  const body = h("div");
  const select = (name, options) =>
    h(
      "select",
      {
        "aria-label": name,
        onchange: (event) => {
          filters[name] = event.target.value;
          filters.page = 1;
          load();
        },
      },
      options.map(([value, label]) => h("option", { value }, label)),
    );
  clear(
    panel,
    h(
      "div",
      { class: "toolbar" },
      select("status", [["all", "Any status"], ["activated", "Active"], ["archived", "Archived"]]),
      select("kind", [["all", "Facts and preferences"], ["fact", "Facts"], ["preference", "Preferences"]]),
      h("button", { type: "button", class: "quiet", onclick: () => load() }, "Refresh"),
      summary,
    ),
    body,
  );

  async function load() {
    clear(body, h("p", { class: "muted" }, "Loading…"));
    let data;
    try {
      data = await call("console/memories", {
        user_id: ctx.userId,
        status: filters.status,
        kind: filters.kind,
        page: filters.page,
        size: PAGE_SIZE,
      });
    } catch (error) {
      failure(body, error);
      return;
    }
    const pages = Math.max(1, Math.ceil(data.total / PAGE_SIZE));
    summary.textContent = plural(data.total, "memory", "memories");
    if (!data.memories.length) {
      clear(body, h("p", { class: "empty" }, "No memories here."));
      return;
    }
    clear(
      body,
      h(
        "table",
        { class: "memories" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ["Type", "Status", "Tags", "Created", "Updated", "Memory", ""].map((t) => h("th", {}, t)),
          ),
        ),
        data.memories.map((memory) => rows(memory, ctx, load)),
      ),
      pages > 1
        ? h(
            "div",
            { class: "toolbar" },
            h("button", {
              type: "button",
              class: "quiet",
              disabled: filters.page <= 1,
              onclick: () => { filters.page -= 1; load(); },
            }, "Newer"),
            h("span", { class: "muted" }, `page ${filters.page} of ${pages}`),
            h("button", {
              type: "button",
              class: "quiet",
              disabled: filters.page >= pages,
              onclick: () => { filters.page += 1; load(); },
            }, "Older"),
          )
        : null,
    );
  }

  load();
}

// One memory: its row, and a row below it for its history or the edit form.
function rows(memory, ctx, reload) {
  const details = h("td", { colspan: 7 });
  const extra = h("tr", { class: "details", hidden: true }, details);
  let showing = "";
  const toggle = (what, fill) => {
    if (showing === what) {
      extra.hidden = true;
      showing = "";
      return;
    }
    showing = what;
    extra.hidden = false;
    fill();
  };
  const changed = async (request) => {
    try {
      await request();
      ctx.changed();
      await reload();
    } catch (error) {
      extra.hidden = false;
      failure(details, error);
    }
  };
  const archived = memory.status === "archived";
  const row = h(
    "tr",
    { class: `memory ${memory.status}`, dataset: { memoryId: memory.id } },
    h("td", {}, pill(memory.kind), " ", pill(memory.mode, `mode-${memory.mode}`),
      h("div", { class: "muted small" }, typeOf(memory))),
    h("td", {}, pill(memory.status, memory.status)),
    h("td", { class: "tags" }, memory.tags.map((t) => said("span", t, { class: "tag" }))),
    h("td", { class: "small nowrap" }, when(memory.create_time)),
    h("td", { class: "small nowrap" }, when(memory.update_time),
      memory.expires_at ? h("div", { class: "muted small expires" }, `expires ${when(memory.expires_at)}`) : null),
    h(
      "td",
      { class: "text" },
      said("strong", memory.memory_key),
      said("p", memory.text, { class: "memory-text" }),
      memory.reasoning ? said("p", memory.reasoning, { class: "muted small" }) : null,
    ),
    h(
      "td",
      { class: "actions" },
      h("button", {
        type: "button",
        class: "quiet",
        onclick: () => toggle("history", () => showHistory(details, memory.id)),
      }, "History"),
      h("button", {
        type: "button",
        class: "quiet",
        onclick: () => toggle("edit", () => editForm(details, memory, changed, () => toggle("edit"))),
      }, "Edit"),
      h("button", {
        type: "button",
        class: "quiet",
        onclick: () =>
          changed(() => call("update/memory", {
            memory_id: memory.id,
            status: archived ? "activated" : "archived",
          })),
      }, archived ? "Restore" : "Archive"),
      confirmButton("Delete", "Delete for good?", () =>
        changed(() => call("delete/memory", { memory_ids: [memory.id] }))),
    ),
  );
  return [row, extra];
}

function editForm(el, memory, changed, close) {
  const title = h("input", { type: "text", value: memory.memory_key, "aria-label": "Title" });
  const text = h("textarea", { rows: 4, value: memory.text, "aria-label": "Text" });
  clear(
    el,
    h(
      "form",
      {
        class: "edit",
        onsubmit: (event) => {
          event.preventDefault();
          const change = { memory_id: memory.id };
          if (text.value.trim() && text.value !== memory.text) change.content = text.value;
          if (title.value.trim() && title.value !== memory.memory_key) change.title = title.value;
          if (!change.content && !change.title) {
            close();
            return;
          }
          changed(() => call("update/memory", change));
        },
      },
      h("label", {}, "Title", title),
      h("label", {}, "Text", text),
      h(
        "div",
        { class: "row" },
        h("button", { type: "submit" }, "Save"),
        h("button", { type: "button", class: "quiet", onclick: close }, "Cancel"),
      ),
    ),
  );
  text.focus();
}
