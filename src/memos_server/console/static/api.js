// The console is a client of the service's public API, with the key the person typed.
// The key lives in sessionStorage (this tab only, gone when it closes) and travels only in
// the Authorization header, never in a URL.

const KEY = "memos-console-key";
const BASE = new URL("../api/openmem/v1/", document.baseURI);

export class ApiError extends Error {
  constructor(message, code, status) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

export const session = {
  key: () => sessionStorage.getItem(KEY),
  save: (key) => sessionStorage.setItem(KEY, key),
  forget: () => sessionStorage.removeItem(KEY),
};

// What to do when the key stops working (revoked): set by the page.
let onUnauthorized = () => {};
export function whenUnauthorized(callback) {
  onUnauthorized = callback;
}

// GET without a body, POST with one; answers the envelope's data or throws ApiError.
export async function call(path, body, key = session.key()) {
  if (body === undefined) return send(path, {}, key);
  return send(path, { body: JSON.stringify(body), type: "application/json" }, key);
}

// POST a multipart form (files, as add/knowledgebase-file takes them): the browser sets the
// Content-Type with its boundary, and the files are sent as they are, not as base64.
export async function upload(path, form, key = session.key()) {
  return send(path, { body: form }, key);
}

async function send(path, { body, type }, key) {
  const headers = { Authorization: `Token ${key}` };
  const init = { method: "GET", headers, cache: "no-store", credentials: "omit" };
  if (body !== undefined) {
    init.method = "POST";
    if (type) headers["Content-Type"] = type;
    init.body = body;
  }
  let response;
  try {
    response = await fetch(new URL(path, BASE), init);
  } catch {
    throw new ApiError("The service cannot be reached.", 0, 0);
  }
  let envelope = null;
  try {
    envelope = await response.json();
  } catch {
    throw new ApiError(`Unexpected answer (HTTP ${response.status}).`, 0, response.status);
  }
  if (!response.ok || envelope.code !== 0) {
    const error = new ApiError(
      envelope.message || `HTTP ${response.status}`,
      envelope.code,
      response.status,
    );
    if (response.status === 401 && key === session.key()) onUnauthorized(error);
    throw error;
  }
  return envelope.data;
}
