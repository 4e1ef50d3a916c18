// The chat playground: talk to the configured model with the user's memories. The turns are
// stored through /chat like any client's (add_message_on_answer), so they become memories too.

import { call } from "./api.js";
import { clear, enterSubmits, failure, h, pill, said } from "./dom.js";

export function renderChat(panel, ctx) {
  if (!ctx.info.chat_available) {
    clear(panel, h("p", { class: "empty" },
      "No LLM is configured, so chat is off (set MEMOS_LLM__BASE_URL and MEMOS_LLM__MODEL)."));
    return;
  }
  const stamp = new Date().toISOString().slice(0, 16).replace(/[-:T]/g, "");
  const conversation = h("input", {
    type: "text",
    value: `console-${stamp}`,
    maxlength: 100,
    "aria-label": "Conversation id",
  });
  const transcript = h("div", { class: "transcript" });
  const query = enterSubmits(h("textarea", { rows: 2, required: true, "aria-label": "Message",
    placeholder: "Say something to the assistant… (Enter sends, Shift+Enter: new line)" }));
  const send = h("button", { type: "submit" }, "Send");
  const form = h(
    "form",
    {
      class: "chat-form",
      onsubmit: async (event) => {
        event.preventDefault();
        const text = query.value;
        if (!text.trim()) return;
        transcript.append(bubble("user", text));
        query.value = "";
        send.disabled = true;
        const pending = h("div", { class: "muted" }, "Thinking…");
        transcript.append(pending);
        try {
          const data = await call("chat", {
            user_id: ctx.userId,
            conversation_id: conversation.value,
            query: text,
            stream: false,
            add_message_on_answer: true,
          });
          pending.replaceWith(bubble("assistant", data.response, data.reasoning));
          ctx.changed();
        } catch (error) {
          failure(pending, error);
        } finally {
          send.disabled = false;
          query.focus();
        }
      },
    },
    query,
    send,
  );
  clear(
    panel,
    h("label", { class: "row" }, "Conversation ", conversation),
    h("p", { class: "muted small" },
      `Model: ${ctx.info.llm_model ?? "configured"}. Each exchange is stored in the conversation.`),
    transcript,
    form,
  );
}

function bubble(role, text, reasoning = null) {
  return h(
    "div",
    { class: `message role-${role}` },
    h("div", { class: "message-head" }, pill(role, `role-${role}`)),
    reasoning
      ? h("details", {}, h("summary", {}, "reasoning"), said("p", reasoning, { class: "muted" }))
      : null,
    said("p", text, { class: "message-text" }),
  );
}
