// The HTTP API (docs/openapi.json): every answer is the envelope {success, data} or
// {success: false, error: {code, message}}; the token goes in the Authorization header.
import config from "../config.js";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
  }
}

export const httpBase = (config.httpBase || location.origin).replace(/\/$/, "");

/** The WebSocket URL: the configured one, or ws(s)://<this host>/ws. */
export function wsBase() {
  if (config.wsUrl) return config.wsUrl;
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws`;
}

let token = null;
let onUnauthorized = () => {};

export function setToken(t) { token = t; }
export function getToken() { return token; }
export function whenUnauthorized(f) { onUnauthorized = f; }

/** Calls the API; resolves to `{data, nextCursor}` of the envelope, throws ApiError. */
export async function call(method, path, { body, query } = {}) {
  let url = httpBase + path;
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null) q.set(k, String(v));
    if ([...q].length) url += `?${q}`;
  }
  const headers = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (token) headers.authorization = `Bearer ${token}`;
  let res;
  try {
    res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, "NETWORK", "The server cannot be reached.");
  }
  let json = null;
  try { json = await res.json(); } catch { /* an empty or non-JSON body */ }
  if (!res.ok || !json || json.success === false) {
    const err = json?.error;
    if (res.status === 401 && token) onUnauthorized();
    throw new ApiError(res.status, err?.code, err?.message || json?.message);
  }
  return { data: json.data, nextCursor: json.nextCursor };
}

export const get = (path, query) => call("GET", path, { query });
export const post = (path, body = {}) => call("POST", path, { body });
export const put = (path, body = {}) => call("PUT", path, { body });
export const patch = (path, body = {}) => call("PATCH", path, { body });
export const del = (path) => call("DELETE", path);
