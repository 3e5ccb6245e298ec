// The castgraph HTTP API (same origin). Errors carry the server's `detail` sentence.
import { saved } from "./store.js";

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status; // 0: the server could not be reached
  }
}

export function apiKey() {
  return saved.get("castgraph.apiKey", "");
}

export function setApiKey(key) {
  saved.set("castgraph.apiKey", key || null);
  keyCookie(key);
}

// The key as a cookie too: with CASTGRAPH_PUBLIC_READ off, <audio src="/media/…"> can only
// send a cookie. The server reads it on read routes only (writes need the header: no CSRF).
function keyCookie(key) {
  const secure = location.protocol === "https:" ? "; Secure" : "";
  document.cookie = key
    ? `castgraph_key=${encodeURIComponent(key)}; Path=/; SameSite=Strict; Max-Age=31536000${secure}`
    : "castgraph_key=; Path=/; SameSite=Strict; Max-Age=0";
}
keyCookie(apiKey()); // in step with the stored key, e.g. after the browser dropped its cookies

// Every request carries the key when one is stored: public reads ignore it, keyed ones need it.
function withKey(headers) {
  const key = apiKey();
  return key ? { ...headers, Authorization: `Bearer ${key}` } : headers;
}

/** The server's `detail` sentence (or the status text) as an ApiError. */
async function failure(response) {
  let detail = response.statusText;
  try {
    detail = (await response.json()).detail || detail;
  } catch {
    /* not JSON: keep the status text */
  }
  return new ApiError(String(detail), response.status);
}

async function respond(path, options) {
  let response;
  try {
    response = await fetch(path, options);
  } catch {
    throw new ApiError("", 0);
  }
  if (!response.ok) throw await failure(response);
  return response;
}

async function request(path, options = {}) {
  const response = await respond(path, options);
  return response.status === 204 ? null : response.json();
}

export const get = (path) => request(path, { headers: withKey({ Accept: "application/json" }) });

/** The largest page the list routes give (their `limit` maximum). */
export const PAGE_SIZE = 1000;

/**
 * Every item of a paged list route (/api/episodes, /api/people): pages of PAGE_SIZE, following
 * the X-Next-Offset header until the last page.
 */
export async function getAll(path) {
  const items = [];
  let offset = 0;
  for (;;) {
    const page = `${path}${path.includes("?") ? "&" : "?"}limit=${PAGE_SIZE}&offset=${offset}`;
    const response = await respond(page, { headers: withKey({ Accept: "application/json" }) });
    items.push(...(await response.json()));
    const next = Number(response.headers.get("X-Next-Offset"));
    if (!next || next <= offset) return items;
    offset = next;
  }
}

/** A write (PUT, POST, DELETE) with the API key when the user gave one. */
export function send(method, path, body) {
  const headers = withKey({ Accept: "application/json" });
  if (body !== undefined) headers["Content-Type"] = "application/json";
  return request(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
}

export const put = (path, body) => send("PUT", path, body);

export function query(params) {
  const q = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (v !== undefined && v !== null && v !== "") q.append(name, v);
    }
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

/**
 * POST /api/chat as server-sent events; `onEvent(kind, data)` for each event.
 * Resolves when the stream ends; rejects with ApiError (status 0: unreachable).
 */
export async function chatStream(body, onEvent, signal) {
  let response;
  try {
    response = await fetch("/api/chat", {
      method: "POST",
      headers: withKey({ "Content-Type": "application/json", Accept: "text/event-stream" }),
      body: JSON.stringify({ ...body, stream: true }),
      signal,
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError("", 0);
  }
  if (!response.ok) throw await failure(response);
  await readEvents(response.body, onEvent);
}

async function readEvents(body, onEvent) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    let chunk;
    try {
      chunk = await reader.read();
    } catch {
      throw new ApiError("", 0); // the connection dropped mid-answer
    }
    if (chunk.done) break;
    buffer += chunk.value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      dispatch(buffer.slice(0, end), onEvent);
      buffer = buffer.slice(end + 2);
    }
  }
  if (buffer.trim()) dispatch(buffer, onEvent);
}

function dispatch(raw, onEvent) {
  let kind = "message";
  const data = [];
  for (const line of raw.split("\n")) {
    if (line.startsWith("event:")) kind = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
  }
  if (!data.length) return;
  try {
    onEvent(kind, JSON.parse(data.join("\n")));
  } catch {
    /* a malformed event is skipped, the rest of the answer still arrives */
  }
}
