// @ts-check
// The WebSocket: opened with a single-use ticket from POST /api/auth/ws-ticket (never the token
// in the URL), reconnected with exponential backoff and jitter, kept alive with `ping` (API
// Gateway closes a connection idle for 10 minutes). Frames go through the typed ChatSocket of
// chat-client.js: actions out, events in, as docs/asyncapi.yaml defines them.
import { http, wsBase, ApiError, ChatSocket } from "./api.js";

const PING_MS = 4 * 60 * 1000;
const MAX_BACKOFF_MS = 30 * 1000;

/** @typedef {"connecting" | "open" | "offline"} SocketState */
/** @typedef {import("../../clients/typescript/src/chat-client.js").ServerEvent} ServerEvent */
/** @typedef {import("../../clients/typescript/src/chat-client.js").Action} Action */

/**
 * @typedef {object} SocketHandlers
 * @property {(frame: ServerEvent) => void} onEvent every event frame
 * @property {(state: SocketState, detail: string) => void} onState
 * @property {() => void} onOpen after each (re)connection
 * @property {() => void} onAuthLost the ticket was refused: the session ended
 */

export class Socket {
  /** @param {SocketHandlers} handlers */
  constructor(handlers) {
    this.h = handlers;
    this.typed = new ChatSocket();
    this.typed.onEvent(handlers.onEvent);
    /** @type {WebSocket | null} */
    this.ws = null;
    this.attempt = 0;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.timer = undefined;
    /** @type {ReturnType<typeof setInterval> | undefined} */
    this.pinger = undefined;
    this.stopped = true;
    /** @type {SocketState} */
    this.state = "offline";
    this.onlineListener = () => this.reconnectNow();
    this.offlineListener = () => this.drop("The network is offline.");
  }

  start() {
    this.stopped = false;
    window.addEventListener("online", this.onlineListener);
    window.addEventListener("offline", this.offlineListener);
    this.connect();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener("online", this.onlineListener);
    window.removeEventListener("offline", this.offlineListener);
    clearTimeout(this.timer);
    clearInterval(this.pinger);
    if (this.ws) { this.ws.onclose = null; this.ws.close(1000, "logout"); }
    this.typed.detach();
    this.ws = null;
  }

  get isOpen() { return this.typed.isOpen; }

  /**
   * Sends an action now; false when the socket is not open (the caller queues).
   * @param {Action} action
   */
  send(action) {
    return this.typed.send(action);
  }

  /** @param {SocketState} state @param {string} [detail] */
  setState(state, detail = "") {
    this.state = state;
    this.h.onState(state, detail);
  }

  /**
   * Closes the current socket and schedules a reconnection (e.g. the browser went offline).
   * @param {string} reason
   */
  drop(reason) {
    if (this.ws) { this.ws.onclose = null; this.ws.close(); this.ws = null; }
    this.typed.detach();
    this.scheduleReconnect(reason);
  }

  reconnectNow() {
    if (this.stopped || this.isOpen || this.ws?.readyState === WebSocket.CONNECTING) return;
    clearTimeout(this.timer);
    this.attempt = 0;
    this.connect();
  }

  async connect() {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.setState("connecting", this.attempt ? `attempt ${this.attempt + 1}` : "");
    let ticket;
    try {
      ({ data: { ticket } } = await http.post("/api/auth/ws-ticket"));
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) { this.h.onAuthLost(); return; }
      this.scheduleReconnect(e instanceof Error ? e.message : String(e));
      return;
    }
    if (this.stopped) return;
    const ws = new WebSocket(`${wsBase()}?ticket=${encodeURIComponent(ticket)}`);
    this.ws = ws;
    this.typed.attach(ws);
    ws.onopen = () => {
      this.attempt = 0;
      this.setState("open");
      clearInterval(this.pinger);
      this.pinger = setInterval(() => this.send({ action: "ping" }), PING_MS);
      this.h.onOpen();
    };
    ws.onclose = (e) => {
      clearInterval(this.pinger);
      if (this.ws === ws) { this.ws = null; this.typed.detach(); }
      this.scheduleReconnect(e.code === 1000 ? "closed by the server" : `connection lost (${e.code})`);
    };
    ws.onerror = () => { /* onclose follows */ };
  }

  /** @param {string} reason */
  scheduleReconnect(reason) {
    if (this.stopped) return;
    clearTimeout(this.timer);
    const base = Math.min(MAX_BACKOFF_MS, 500 * 2 ** this.attempt);
    const delay = Math.round(base / 2 + Math.random() * base / 2);
    this.attempt += 1;
    this.setState("offline", `${reason}; retrying in ${Math.ceil(delay / 1000)} s`);
    this.timer = setTimeout(() => this.connect(), delay);
  }
}
