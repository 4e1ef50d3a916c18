// A knowledge base's documents (a table with each one's status, and the reason when it failed)
// and a document's passages, read-only, in the document's order.

import { call } from "./api.js";
import { clear, confirmButton, failure, h, pill, plural, said, when } from "./dom.js";

const PASSAGE_PAGE = 50;

// The service's word for a document whose job has not finished is "running" (the Cloud's);
// a person reads "processing".
const STATUS_LABEL = { running: "processing", completed: "completed", failed: "failed" };

export function showFiles(el, data, { changed, turn }) {
  if (!data.total) {
    clear(el, h("p", { class: "empty" }, "No documents yet: upload one above."));
    return;
  }
  const pages = Math.max(1, Math.ceil(data.total / data.page_size));
  clear(
    el,
    h(
      "table",
      { class: "memories files" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["Document", "Type", "Size", "Status", "Passages", "Uploaded", ""].map((t) => h("th", {}, t)),
        ),
      ),
      data.file_detail_list.map((file) => fileRows(file, changed)),
    ),
    pages > 1
      ? h(
          "div",
          { class: "toolbar" },
          h("button", {
            type: "button",
            class: "quiet",
            disabled: data.page <= 1,
            onclick: () => turn(-1),
          }, "Previous"),
          h("span", { class: "muted" }, `page ${data.page} of ${pages}`),
          h("button", {
            type: "button",
            class: "quiet",
            disabled: data.page >= pages,
            onclick: () => turn(1),
          }, "Next"),
        )
      : null,
  );
}

// One document: its row, and a row below it for its passages.
function fileRows(file, changed) {
  const details = h("td", { colspan: 7 });
  const extra = h("tr", { class: "details", hidden: true }, details);
  const row = h(
    "tr",
    { class: `file status-${file.status}`, dataset: { fileId: file.id, status: file.status } },
    h("td", { class: "text" }, said("strong", file.name, { class: "file-name" })),
    h("td", {}, pill(file.type)),
    h("td", { class: "small nowrap" }, size(file.size_bytes)),
    h(
      "td",
      {},
      pill(STATUS_LABEL[file.status] ?? file.status, `file-${file.status}`),
      file.reason ? said("p", file.reason, { class: "error small reason" }) : null,
    ),
    h("td", { class: "small" }, String(file.passages)),
    h("td", { class: "small nowrap" }, when(file.create_time)),
    h(
      "td",
      { class: "actions" },
      h("button", {
        type: "button",
        class: "quiet",
        disabled: file.status !== "completed",
        onclick: () => {
          extra.hidden = !extra.hidden;
          if (!extra.hidden) showPassages(details, file);
        },
      }, "Passages"),
      confirmButton("Delete", "Delete for good?", async () => {
        try {
          await call("delete/knowledgebase-file", { file_ids: [file.id] });
          await changed();
        } catch (error) {
          extra.hidden = false;
          failure(details, error);
        }
      }),
    ),
  );
  return [row, extra];
}

// A document's passages, read-only, in the document's order (as search finds them).
async function showPassages(el, file) {
  const list = h("ol", { class: "passages" });
  const more = h("button", { type: "button", class: "quiet", hidden: true }, "More passages");
  const head = h("p", { class: "muted small" }, "Loading…");
  clear(el, head, list, more);
  let loaded = 0;

  async function load() {
    let data;
    try {
      data = await call("console/passages", {
        file_id: file.id,
        offset: loaded,
        limit: PASSAGE_PAGE,
      });
    } catch (error) {
      failure(el, error);
      return;
    }
    list.append(...data.passages.map(passageItem));
    loaded += data.passages.length;
    head.textContent = `${plural(data.total, "passage", "passages")} of ${data.file.name}`;
    more.hidden = loaded >= data.total;
  }

  more.addEventListener("click", load);
  await load();
}

function passageItem(passage) {
  return h(
    "li",
    { class: "passage", dataset: { passageId: passage.id, position: passage.position } },
    h(
      "div",
      { class: "card-head" },
      pill(`position ${passage.position}`, "position"),
      passage.page !== null ? pill(`page ${passage.page}`) : null,
      passage.heading ? said("strong", passage.heading, { class: "heading" }) : null,
    ),
    said("p", passage.text, { class: "memory-text" }),
  );
}

// 2048 → "2.0 KB"
export function size(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
