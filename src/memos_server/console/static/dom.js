// Building the page from data. Every string from the service becomes a text node
// (never HTML), so a message such as <img src=x onerror=...> shows as the text it is.

const CJK = /[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]/;

// h("p", {class: "x", onclick: f}, "text", child, [more]) → <p class="x">text…</p>
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") el.className = value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name === "value") el.value = value;
    else if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

// Text a user or a model wrote: tagged zh when it holds CJK, so the browser picks CJK glyphs.
export function said(tag, text, props = {}) {
  const el = h(tag, props, text ?? "");
  if (CJK.test(text ?? "")) el.lang = "zh";
  return el;
}

export function clear(el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined));
  return el;
}

// Epoch milliseconds → "2026-05-01 14:03" in the viewer's time zone.
export function when(ms) {
  if (ms === null || ms === undefined) return "—";
  const d = new Date(ms);
  const two = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ` +
    `${two(d.getHours())}:${two(d.getMinutes())}`;
}

// plural(3, "memory", "memories") → "3 memories"
export function plural(n, one, many) {
  return `${n} ${n === 1 ? one : many}`;
}

export function pill(text, kind = "") {
  return h("span", { class: `pill ${kind}`.trim() }, text);
}

// A button that asks once more before doing something that cannot be undone.
export function confirmButton(label, question, action) {
  let armed = false;
  let timer = 0;
  const button = h("button", { type: "button", class: "danger" }, label);
  button.addEventListener("click", async () => {
    if (!armed) {
      armed = true;
      button.textContent = question;
      timer = setTimeout(() => {
        armed = false;
        button.textContent = label;
      }, 4000);
      return;
    }
    clearTimeout(timer);
    button.disabled = true;
    try {
      await action();
    } finally {
      button.disabled = false;
      armed = false;
      button.textContent = label;
    }
  });
  return button;
}

// Enter in a text box submits its form (Shift+Enter: a new line), except while an input
// method is composing: Enter then picks the Chinese characters.
export function enterSubmits(textarea) {
  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      textarea.form?.requestSubmit();
    }
  });
  return textarea;
}

// Report a failure where it happened (and keep the page usable).
export function failure(el, error) {
  const code = error.code ? ` (${error.code})` : "";
  clear(el, h("p", { class: "error", role: "alert" }, `${error.message}${code}`));
}
