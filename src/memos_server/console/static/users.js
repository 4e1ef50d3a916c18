// The sidebar: the project's users, most recently active first, with their counts.

import { call } from "./api.js";
import { clear, failure, h, said } from "./dom.js";

const PAGE = 100;

export function userList({ list, more, total, onPick }) {
  let loaded = 0;
  let selected = null;

  function item(user) {
    const counts =
      `${user.messages} msgs · ${user.conversations} conv · ` +
      `${user.facts} facts · ${user.preferences} prefs` +
      (user.archived ? ` · ${user.archived} archived` : "");
    const button = h(
      "button",
      { type: "button", class: "user", dataset: { userId: user.user_id } },
      said("span", user.user_id, { class: "user-id" }),
      h("span", { class: "muted small" }, counts),
    );
    button.addEventListener("click", () => onPick(user.user_id));
    if (user.user_id === selected) button.classList.add("selected");
    return h("li", {}, button);
  }

  async function load(reset) {
    if (reset) loaded = 0;
    let data;
    try {
      data = await call("console/users", { offset: loaded, limit: PAGE });
    } catch (error) {
      failure(list, error);
      return;
    }
    const items = data.users.map(item);
    if (reset) clear(list, items);
    else list.append(...items);
    if (!data.total) clear(list, h("li", { class: "muted small" }, "No users yet."));
    loaded += data.users.length;
    total.textContent = `(${data.total})`;
    more.hidden = loaded >= data.total;
  }

  more.addEventListener("click", () => load(false));

  return {
    reload: () => load(true),
    select(userId) {
      selected = userId;
      for (const button of list.querySelectorAll("button.user")) {
        button.classList.toggle("selected", button.dataset.userId === userId);
      }
    },
  };
}
