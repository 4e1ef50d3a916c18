// The Conversations tab: a user's conversations; one conversation's raw messages, and beside
// each message the memories made from it.

import { call } from "./api.js";
import { clear, failure, h, pill, plural, said, when } from "./dom.js";
import { showHistory } from "./history.js";
import { typeOf } from "./memories.js";

const MESSAGE_LIMIT = 500;

export function renderConversations(panel, ctx) {
  const list = h("ul", { class: "conversations" });
  const thread = h("div", { class: "thread" });
  clear(panel, h("div", { class: "split" }, list, thread));
  let chosen = null;

  async function open(conversationId, item) {
    chosen?.classList.remove("selected");
    chosen = item;
    item.classList.add("selected");
    clear(thread, h("p", { class: "muted" }, "Loading…"));
    try {
      const data = await call("console/messages", {
        user_id: ctx.userId,
        conversation_id: conversationId,
        limit: MESSAGE_LIMIT,
      });
      if (chosen === item) showThread(thread, conversationId, data);  // not clicked away since
    } catch (error) {
      if (chosen === item) failure(thread, error);
    }
  }

  (async () => {
    clear(list, h("li", { class: "muted" }, "Loading…"));
    let data;
    try {
      data = await call("console/conversations", { user_id: ctx.userId, limit: 500 });
    } catch (error) {
      failure(list, error);
      return;
    }
    if (!data.conversations.length) {
      clear(list);
      clear(thread, h("p", { class: "empty" }, "No conversations stored for this user."));
      return;
    }
    const items = data.conversations.map((c) => {
      const item = h(
        "li",
        {},
        h(
          "button",
          { type: "button", class: "conversation", dataset: { conversationId: c.conversation_id } },
          said("strong", c.conversation_id),
          h(
            "span",
            { class: "muted small" },
            `${plural(c.messages, "message", "messages")} · ` +
              `${plural(c.memories, "memory", "memories")} · ${when(c.last_time)}`,
          ),
        ),
      );
      item.firstChild.addEventListener("click", () => open(c.conversation_id, item));
      return item;
    });
    clear(
      list,
      items,
      data.total > items.length
        ? h("li", { class: "muted small" }, `${data.total - items.length} older not shown`)
        : null,
    );
    open(data.conversations[0].conversation_id, items[0]);
  })();
}

function showThread(el, conversationId, data) {
  const memories = new Map(data.memories.map((m) => [m.id, m]));
  const seen = new Set();
  clear(
    el,
    h(
      "div",
      { class: "thread-head" },
      said("h3", conversationId),
      h(
        "span",
        { class: "muted small" },
        data.total > data.messages.length
          ? `first ${data.messages.length} of ${data.total} messages`
          : plural(data.total, "message", "messages"),
        ` · ${plural(data.memories.length, "memory", "memories")} made from them`,
      ),
    ),
    data.messages.map((message) => {
      const made = message.memory_ids.map((id) => memories.get(id)).filter(Boolean);
      const fresh = made.filter((m) => !seen.has(m.id));
      const earlier = made.filter((m) => seen.has(m.id));
      fresh.forEach((m) => seen.add(m.id));
      return h(
        "div",
        { class: "turn", dataset: { messageId: message.message_id } },
        h(
          "div",
          { class: `message role-${message.role}` },
          h("div", { class: "message-head" }, pill(message.role, `role-${message.role}`),
            h("span", { class: "muted small" }, when(message.time))),
          said("p", message.content, { class: "message-text" }),
          message.attachments.length
            ? h("ul", { class: "muted small" }, message.attachments.map((a) => said("li", a)))
            : null,
        ),
        h(
          "div",
          { class: "made" },
          fresh.map(memoryCard),
          earlier.length
            ? h(
                "p",
                { class: "muted small also" },
                "Also from this message: ",
                earlier.map((m) => said("span", m.memory_key, { class: "tag" })),
              )
            : null,
        ),
      );
    }),
  );
}

export function memoryCard(memory) {
  const history = h("div", { class: "card-history", hidden: true });
  return h(
    "div",
    { class: `memory-card ${memory.status}`, dataset: { memoryId: memory.id } },
    h(
      "div",
      { class: "card-head" },
      pill(memory.kind),
      pill(memory.mode, `mode-${memory.mode}`),
      h("span", { class: "muted small" }, typeOf(memory)),
      memory.status !== "activated" ? pill(memory.status, memory.status) : null,
      h("button", {
        type: "button",
        class: "link",
        onclick: () => {
          history.hidden = !history.hidden;
          if (!history.hidden) showHistory(history, memory.id);
        },
      }, "history"),
    ),
    said("strong", memory.memory_key),
    said("p", memory.text, { class: "memory-text" }),
    history,
  );
}
