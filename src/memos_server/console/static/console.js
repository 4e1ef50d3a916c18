// The console page: log in with a key, pick a user, look through the tabs; or look at the
// project's knowledge bases (the Knowledge view, which belongs to no user).

import { call, session, whenUnauthorized } from "./api.js";
import { renderChat } from "./chat.js";
import { renderConversations } from "./conversations.js";
import { renderKnowledge } from "./knowledge.js";
import { renderMemories } from "./memories.js";
import { renderProfile } from "./profile.js";
import { renderSearch } from "./search.js";
import { userList } from "./users.js";

const $ = (id) => document.getElementById(id);

const TABS = {
  conversations: renderConversations,
  memories: renderMemories,
  profile: renderProfile,
  search: renderSearch,
  chat: renderChat,
};

const state = {
  info: null,
  userId: null,
  tab: "conversations",
  drawn: new Set(),
  view: "users",
  knowledgeDrawn: false,
};

const users = userList({
  list: $("users"),
  more: $("more-users"),
  total: $("user-total"),
  onPick: pickUser,
});

function showLogin(message = "") {
  $("app").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message;
  $("login-key").value = "";
  $("login-key").focus();
}

async function enter(key) {
  const info = await call("console/info", undefined, key);
  session.save(key);
  state.info = info;
  $("project").textContent = `project ${info.project}`;
  $("mode").textContent = info.chat_available
    ? `fine mode · LLM ${info.llm_model ?? ""} · ${info.embedding_model}`
    : `fast mode (no LLM) · ${info.embedding_model}`;
  document.querySelector('[data-tab="chat"]').hidden = !info.chat_available;
  $("login").hidden = true;
  $("app").hidden = false;
  await users.reload();
}

function pickUser(userId) {
  if (state.view !== "users") showView("users");
  state.userId = userId;
  state.drawn.clear();
  users.select(userId);
  $("no-user").hidden = true;
  $("user-view").hidden = false;
  $("user-title").textContent = userId;
  showTab(state.tab);
}

function showTab(tab) {
  state.tab = tab;
  for (const button of document.querySelectorAll("[data-tab]")) {
    button.setAttribute("aria-selected", String(button.dataset.tab === tab));
  }
  for (const panel of document.querySelectorAll("[data-panel]")) {
    panel.hidden = panel.dataset.panel !== tab;
  }
  if (!state.drawn.has(tab)) {
    state.drawn.add(tab);
    TABS[tab]($(`tab-${tab}`), context());
  }
}

// Users (the sidebar and a user's tabs) or Knowledge (the project's knowledge bases, full width).
function showView(view) {
  state.view = view;
  for (const button of document.querySelectorAll("[data-view]")) {
    button.setAttribute("aria-selected", String(button.dataset.view === view));
  }
  const knowledge = view === "knowledge";
  $("app").classList.toggle("wide", knowledge);
  document.querySelector(".sidebar").hidden = knowledge;
  $("knowledge-view").hidden = !knowledge;
  $("no-user").hidden = knowledge || state.userId !== null;
  $("user-view").hidden = knowledge || state.userId === null;
  if (knowledge && !state.knowledgeDrawn) {
    state.knowledgeDrawn = true;
    renderKnowledge($("knowledge-view"), {
      info: state.info,
      // The search playground lists the bases to include: it draws them again when next shown.
      changed: () => state.drawn.clear(),
    });
  }
  if (!knowledge && state.userId !== null) showTab(state.tab);
}

// What a tab knows: whose data, what the service can do, and how to say the data changed.
function context() {
  return {
    userId: state.userId,
    info: state.info,
    changed() {
      // Other tabs redraw when next shown; the counts in the sidebar refresh now.
      for (const tab of Object.keys(TABS)) if (tab !== state.tab) state.drawn.delete(tab);
      users.reload();
    },
  };
}

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const key = $("login-key").value.trim();
  if (!key) return;
  const button = event.target.querySelector("button");
  button.disabled = true;
  $("login-error").textContent = "";
  try {
    await enter(key);
  } catch (error) {
    const code = error.code ? ` (${error.code})` : "";
    showLogin(`Login failed: ${error.message}${code}`);
  } finally {
    button.disabled = false;
  }
});

$("logout").addEventListener("click", () => {
  session.forget();
  location.reload();
});

$("open-user").addEventListener("submit", (event) => {
  event.preventDefault();
  const userId = $("open-user-id").value.trim();
  if (userId) pickUser(userId);
});

for (const button of document.querySelectorAll("[data-tab]")) {
  button.addEventListener("click", () => showTab(button.dataset.tab));
}

for (const button of document.querySelectorAll("[data-view]")) {
  button.addEventListener("click", () => showView(button.dataset.view));
}

whenUnauthorized((error) => {
  session.forget();
  showLogin(`Logged out: ${error.message}`);
});

const saved = session.key();
if (saved) {
  // A revoked key has already brought the login back (whenUnauthorized).
  enter(saved).catch((error) => error.status !== 401 && showLogin(error.message));
} else {
  showLogin();
}
