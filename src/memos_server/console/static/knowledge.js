// The Knowledge tab: the project's knowledge bases (list, create, delete) and one base at a time
// (upload, and its documents, drawn by documents.js). Bases and documents are made and deleted
// through the public endpoints the SDK uses; the list of bases and a document's passages come
// from console/knowledgebases and console/passages.

import { call, upload } from "./api.js";
import { showFiles } from "./documents.js";
import { clear, confirmButton, failure, h, plural, said, when } from "./dom.js";

const FILE_PAGE = 100;
const POLL_MS = 1500;
const ACCEPT = ".txt,.md,.markdown,.html,.htm,.xml,.json,.pdf,.docx";

export function renderKnowledge(panel, ctx) {
  const list = h("ul", { class: "bases" });
  const detail = h("div", { class: "base-detail" });
  let chosen = null; // the base shown on the right, by id

  async function loadBases() {
    let data;
    try {
      data = await call("console/knowledgebases", { limit: 500 });
    } catch (error) {
      failure(list, error);
      return [];
    }
    if (!data.knowledgebases.length) {
      clear(list, h("li", { class: "muted small" }, "No knowledge bases yet."));
    } else {
      clear(list, data.knowledgebases.map((base) => baseItem(base)));
    }
    return data.knowledgebases;
  }

  function baseItem(base) {
    const counts = [
      plural(base.files, "document", "documents"),
      plural(base.passages, "passage", "passages"),
      base.running ? `${base.running} processing` : null,
      base.failed ? `${base.failed} failed` : null,
    ].filter(Boolean).join(" · ");
    const button = h(
      "button",
      { type: "button", class: "base", dataset: { baseId: base.id } },
      said("strong", base.name),
      h("span", { class: "muted small" }, counts),
    );
    button.addEventListener("click", () => open(base));
    if (base.id === chosen) button.classList.add("selected");
    return h("li", {}, button);
  }

  function open(base) {
    chosen = base.id;
    for (const button of list.querySelectorAll("button.base")) {
      button.classList.toggle("selected", button.dataset.baseId === base.id);
    }
    showBase(detail, base, {
      isShown: () => chosen === base.id && detail.isConnected,
      changed: async () => {
        ctx.changed();
        await loadBases();
      },
      deleted: async () => {
        chosen = null;
        ctx.changed();
        clear(detail, h("p", { class: "empty" }, "Knowledge base deleted."));
        await loadBases();
      },
    });
  }

  const name = h("input", {
    type: "text",
    name: "knowledgebase_name",
    required: true,
    maxlength: 200,
    placeholder: "Name, e.g. 宠物店产品手册",
    "aria-label": "Knowledge base name",
  });
  const description = h("input", {
    type: "text",
    name: "knowledgebase_description",
    maxlength: 2000,
    placeholder: "What it holds (optional)",
    "aria-label": "Knowledge base description",
  });
  const createError = h("p", { class: "error small", role: "alert" });
  const create = h(
    "form",
    {
      class: "create-base",
      onsubmit: async (event) => {
        event.preventDefault();
        const button = create.querySelector("button");
        button.disabled = true;
        createError.textContent = "";
        try {
          const made = await call("create/knowledgebase", {
            knowledgebase_name: name.value,
            knowledgebase_description: description.value.trim() || null,
          });
          create.reset();
          ctx.changed();
          const bases = await loadBases();
          const base = bases.find((b) => b.id === made.id);
          if (base) open(base);
        } catch (error) {
          const code = error.code ? ` (${error.code})` : "";
          createError.textContent = `${error.message}${code}`;
        } finally {
          button.disabled = false;
        }
      },
    },
    name,
    description,
    h("button", { type: "submit" }, "Create knowledge base"),
    createError,
  );

  clear(
    panel,
    h(
      "div",
      { class: "split" },
      h("div", { class: "base-list" }, h("h3", {}, "Knowledge bases"), create, list),
      detail,
    ),
  );
  clear(detail, h("p", { class: "empty" }, "Choose a knowledge base, or create one."));
  loadBases();
}

// One base: what it is, an upload form, its documents; a document's passages below its row.
function showBase(el, base, { isShown, changed, deleted }) {
  const files = h("div", { class: "files" });
  const summary = h("span", { class: "muted small" });
  let page = 1;
  let timer = 0;
  let wasRunning = false;

  async function loadFiles() {
    clearTimeout(timer);
    let data;
    try {
      data = await call("get/knowledgebase-file", {
        knowledgebase_id: base.id,
        page,
        page_size: FILE_PAGE,
      });
    } catch (error) {
      if (isShown()) failure(files, error);
      return;
    }
    if (!isShown()) return;
    summary.textContent = plural(data.total, "document", "documents");
    showFiles(files, data, {
      changed: async () => {
        await changed();
        await loadFiles();
      },
      turn: (delta) => {
        page += delta;
        loadFiles();
      },
    });
    // Documents are processed by a job: look again until none is running, then let the
    // base list's counts catch up.
    const running = data.file_detail_list.some((f) => f.status === "running");
    if (running) timer = setTimeout(() => isShown() && loadFiles(), POLL_MS);
    else if (wasRunning) changed();
    wasRunning = running;
  }

  clear(
    el,
    h(
      "div",
      { class: "thread-head" },
      said("h3", base.name, { id: "base-title" }),
      summary,
      h("span", { class: "spacer" }),
      confirmButton("Delete knowledge base", "Delete it and all its documents?", async () => {
        try {
          await call("delete/knowledgebase", { knowledgebase_id: base.id });
          await deleted();
        } catch (error) {
          failure(files, error);
        }
      }),
    ),
    base.description ? said("p", base.description, { class: "muted" }) : null,
    h("p", { class: "muted small" }, `id ${base.id} · created ${when(base.create_time)}`),
    uploadForm(base, async () => {
      await changed();
      page = 1;
      await loadFiles();
    }),
    files,
  );
  clear(files, h("p", { class: "muted" }, "Loading…"));
  loadFiles();
}

function uploadForm(base, uploaded) {
  const input = h("input", {
    type: "file",
    name: "file",
    multiple: true,
    required: true,
    accept: ACCEPT,
    "aria-label": "Documents to upload",
  });
  const message = h("p", { class: "small", role: "status" });
  const form = h(
    "form",
    {
      class: "upload row wrap",
      onsubmit: async (event) => {
        event.preventDefault();
        if (!input.files.length) return;
        const button = form.querySelector("button");
        const body = new FormData();
        body.append("knowledgebase_id", base.id);
        for (const file of input.files) body.append("file", file, file.name);
        button.disabled = true;
        message.className = "small muted";
        message.textContent = `Uploading ${plural(input.files.length, "document", "documents")}…`;
        try {
          const added = await upload("add/knowledgebase-file", body);
          form.reset();
          message.textContent =
            `Uploaded ${plural(added.length, "document", "documents")}; ` +
            "each is processed in the background (its status below).";
          await uploaded();
        } catch (error) {
          const code = error.code ? ` (${error.code})` : "";
          message.className = "small error";
          message.textContent = `Upload failed: ${error.message}${code}`;
        } finally {
          button.disabled = false;
        }
      },
    },
    h("label", { class: "muted small" }, "Add documents (txt, md, html, pdf, docx) ", input),
    h("button", { type: "submit" }, "Upload"),
    message,
  );
  return form;
}
