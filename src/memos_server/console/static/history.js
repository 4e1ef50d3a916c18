// A memory's history: what changed, when, and from which messages.

import { call } from "./api.js";
import { clear, failure, h, pill, plural, said, when } from "./dom.js";

export async function showHistory(el, memoryId) {
  clear(el, h("p", { class: "muted" }, "Loading history…"));
  let data;
  try {
    data = await call("console/history", { memory_id: memoryId });
  } catch (error) {
    failure(el, error);
    return;
  }
  const messages = new Map(data.messages.map((m) => [m.message_id, m]));
  clear(
    el,
    data.memory === null
      ? h("p", { class: "muted" }, "This memory was deleted; its history remains.")
      : null,
    h(
      "ol",
      { class: "history" },
      data.history.map((row) =>
        h(
          "li",
          { class: "history-row" },
          h(
            "div",
            { class: "history-head" },
            pill(row.event, `event-${row.event.toLowerCase()}`),
            h("span", { class: "muted small" }, when(row.time)),
            row.task_id ? h("span", { class: "muted small" }, `task ${row.task_id}`) : null,
          ),
          change(row),
          sources(row.source_message_ids, messages),
        ),
      ),
    ),
  );
}

function change(row) {
  const parts = [];
  if (row.old_value !== null && row.old_value !== row.new_value) {
    parts.push(said("del", row.old_value));
  }
  if (row.new_value !== null) parts.push(said("ins", row.new_value));
  if (!parts.length && row.old_value !== null) parts.push(said("span", row.old_value));
  return h("div", { class: "change" }, parts);
}

function sources(ids, messages) {
  if (!ids.length) return null;
  return h(
    "div",
    { class: "sources" },
    h("span", { class: "muted small" }, `From ${plural(ids.length, "message", "messages")}:`),
    h(
      "ul",
      {},
      ids.map((id) => {
        const m = messages.get(id);
        if (!m) return h("li", { class: "muted small" }, `message ${id} (no longer stored)`);
        return h(
          "li",
          { class: "small" },
          pill(m.role, `role-${m.role}`),
          h("span", { class: "muted" }, ` ${m.conversation_id} · ${when(m.time)} `),
          said("span", m.content),
        );
      }),
    ),
  );
}
