// The WebSocket: opened with a single-use ticket from POST /api/auth/ws-ticket (never the token
// in the URL), reconnected with exponential backoff and jitter, kept alive with `ping` (API
// Gateway closes a connection idle for 10 minutes). Frames are `{"action": …}` out and
// `{"event": …, "data": …}` in (docs/asyncapi.yaml).
import { post, wsBase, ApiError } from "./api.js";

const PING_MS = 4 * 60 * 1000;
const MAX_BACKOFF_MS = 30 * 1000;

export class Socket {
  /**
   * @param {object} handlers `onEvent(event, data)`, `onState(state, detail)` with state one of
   *   "connecting", "open", "offline"; `onOpen()` after each (re)connection; `onAuthLost()`.
   */
  constructor(handlers) {
    this.h = handlers;
    this.ws = null;
    this.attempt = 0;
    this.timer = null;
    this.pinger = null;
    this.stopped = true;
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
    this.ws = null;
  }

  get isOpen() { return this.ws?.readyState === WebSocket.OPEN; }

  /** Sends a frame now; false when the socket is not open (the caller queues). */
  send(frame) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  setState(state, detail = "") {
    this.state = state;
    this.h.onState(state, detail);
  }

  /** Closes the current socket and schedules a reconnection (e.g. the browser went offline). */
  drop(reason) {
    if (this.ws) { this.ws.onclose = null; this.ws.close(); this.ws = null; }
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
      ({ data: { ticket } } = await post("/api/auth/ws-ticket"));
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) { this.h.onAuthLost(); return; }
      this.scheduleReconnect(e.message);
      return;
    }
    if (this.stopped) return;
    const ws = new WebSocket(`${wsBase()}?ticket=${encodeURIComponent(ticket)}`);
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.setState("open");
      clearInterval(this.pinger);
      this.pinger = setInterval(() => this.send({ action: "ping" }), PING_MS);
      this.h.onOpen();
    };
    ws.onmessage = (msg) => {
      let frame;
      try { frame = JSON.parse(msg.data); } catch { return; }
      if (frame && typeof frame.event === "string") this.h.onEvent(frame.event, frame.data);
    };
    ws.onclose = (e) => {
      clearInterval(this.pinger);
      if (this.ws === ws) this.ws = null;
      this.scheduleReconnect(e.code === 1000 ? "closed by the server" : `connection lost (${e.code})`);
    };
    ws.onerror = () => { /* onclose follows */ };
  }

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
