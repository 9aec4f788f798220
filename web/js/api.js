// @ts-check
// The HTTP API through the typed client (chat-client.js, compiled from clients/typescript and
// typed by docs/openapi.json): `http.get("/api/messages/{id}", {path: {id}, query: {limit}})`
// resolves to the envelope's `{data, nextCursor}` and throws an ApiError for the error envelope.
// The token goes in the Authorization header.
import config from "../config.js";
import * as compiled from "./chat-client.js";

/**
 * The compiled client, typed by its TypeScript source (tsc cannot see the generics in the
 * emitted JavaScript): the one place the web client meets the generated types.
 */
const client = /** @type {typeof import("../../clients/typescript/src/chat-client.js")} */ (/** @type {unknown} */ (compiled));
export const { ApiError, ChatHttp, ChatSocket } = client;

/** @type {string | null} */
let token = null;
let onUnauthorized = () => {};

export const http = new ChatHttp({
  baseUrl: config.httpBase || location.origin,
  token: () => token,
  onUnauthorized: () => onUnauthorized(),
});

/** The WebSocket URL: the configured one, or ws(s)://<this host>/ws. */
export function wsBase() {
  if (config.wsUrl) return config.wsUrl;
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws`;
}

/** @param {string | null} t */
export function setToken(t) { token = t; }
export function getToken() { return token; }
/** @param {() => void} f called on a 401 to a call that carried the token */
export function whenUnauthorized(f) { onUnauthorized = f; }
