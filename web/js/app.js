// @ts-check
// The chat app: wires the HTTP API (api.js), the WebSocket (socket.js) and the page.
// Every text from the server is rendered with textContent (dom.js), never as HTML.
import * as api from "./api.js";
import { Socket } from "./socket.js";
import { $, h, replace, shortTime } from "./dom.js";

const SESSION_KEY = "chat.session";
const OUTBOX_KEY = "chat.outbox";
const PAGE = 30;
const RETRY_MS = 8000;
const MAX_TRIES = 6;
const QUICK_REACTIONS = ["👍", "❤️", "😂"];

// The contract's types (generated from docs/openapi.json and docs/asyncapi.yaml).
/** @template {keyof import("../../clients/typescript/src/generated/openapi").components["schemas"]} N @typedef {import("../../clients/typescript/src/chat-client.js").Schema<N>} Schema */
/** @typedef {Schema<"ConversationView">} ConversationView */
/** @typedef {Schema<"Message">} Message */
/** @typedef {Schema<"PresenceView">} PresenceView */
/** @typedef {import("../../clients/typescript/src/chat-client.js").ServerEvent} ServerEvent */
/** @typedef {{id: string, username: string}} Me */
/** @typedef {{clientMessageId: string, conversationId: string, text: string, tries: number, lastTry: number, failed: boolean}} Queued */
/** @typedef {{messages: Map<string, Message>, older: string | null, loaded: boolean, loadingOlder?: boolean, peerRead: number, peerDelivered: number}} Thread */

const state = {
  /** The user of the session: set before any code that reads it runs (startSession). */
  me: /** @type {Me} */ (/** @type {unknown} */ (null)),
  /** @type {Map<string, ConversationView>} id → conversation */
  convs: new Map(),
  /** @type {Map<string, string>} id → username */
  users: new Map(),
  /** @type {Map<string, PresenceView>} userId → presence */
  presence: new Map(),
  /** @type {Map<string, Thread>} conversationId → what this page holds of it */
  threads: new Map(),
  /** @type {Queued[]} sends not acknowledged yet */
  outbox: [],
  /** @type {string | null} */
  current: null,
  /** @type {string | null} */
  editing: null,
  /** @type {Map<string, Map<string, ReturnType<typeof setTimeout>>>} conversationId → userId → expiry */
  typing: new Map(),
  /** @type {Socket | null} */
  socket: null,
};

// ---------- session ----------

/** @param {{token: string, user: Me}} session */
function saveSession(session) {
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
}

function loadOutbox() {
  try { state.outbox = JSON.parse(sessionStorage.getItem(OUTBOX_KEY) || "[]"); } catch { state.outbox = []; }
}
function saveOutbox() {
  sessionStorage.setItem(OUTBOX_KEY, JSON.stringify(state.outbox));
}

async function boot() {
  api.whenUnauthorized(() => endSession("Your session ended; please log in again."));
  bindStatic();
  let session = null;
  try { session = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null"); } catch { /* none */ }
  if (session?.token) {
    api.setToken(session.token);
    try {
      const { data } = await api.http.get("/api/users/me");
      return startSession(data, session.token);
    } catch { api.setToken(null); }
  }
  showLogin();
}

function showLogin(message = "") {
  $("#chat-view").hidden = true;
  $("#login-view").hidden = false;
  $("#auth-error").textContent = message;
  $("#auth-username").focus();
}

/** @param {"login" | "register"} kind */
async function authenticate(kind) {
  const username = $("#auth-username").value.trim();
  const password = $("#auth-password").value;
  $("#auth-error").textContent = "";
  if (!username || !password) {
    $("#auth-error").textContent = "Enter a username and a password.";
    return;
  }
  try {
    const body = { username, password };
    const { data } = kind === "register"
      ? await api.http.post("/api/users/register", { body })
      : await api.http.post("/api/users/login", { body });
    $("#auth-password").value = "";
    startSession(data.user, data.token);
  } catch (e) {
    $("#auth-error").textContent = e instanceof Error ? e.message : String(e);
  }
}

/** @param {Me} user @param {string} token */
function startSession(user, token) {
  api.setToken(token);
  saveSession({ token, user: { id: user.id, username: user.username } });
  state.me = { id: user.id, username: user.username };
  state.users.set(user.id, user.username);
  loadOutbox();
  $("#login-view").hidden = true;
  $("#chat-view").hidden = false;
  $("#me").textContent = user.username;
  state.socket = new Socket({
    onEvent,
    onState: showConnection,
    onOpen: caughtUp,
    onAuthLost: () => endSession("Your session ended; please log in again."),
  });
  state.socket.start();
  loadConversations();
}

async function logout() {
  try { await api.http.post("/api/auth/logout"); } catch { /* the token may be gone already */ }
  endSession("");
}

/** @param {string} message */
function endSession(message) {
  state.socket?.stop();
  state.socket = null;
  api.setToken(null);
  sessionStorage.removeItem(SESSION_KEY);
  sessionStorage.removeItem(OUTBOX_KEY);
  Object.assign(state, { me: null, current: null, editing: null, outbox: [] });
  for (const map of [state.convs, state.users, state.presence, state.threads, state.typing]) map.clear();
  replace($("#conversation-list"));
  replace($("#message-list"));
  $("#conversation").hidden = true;
  $("#empty").hidden = false;
  showLogin(message);
}

// ---------- connection ----------

/** @param {import("./socket.js").SocketState} s @param {string} [detail] */
function showConnection(s, detail) {
  const el = $("#connection");
  el.dataset.state = s;
  const queued = state.outbox.filter((m) => !m.failed).length;
  const text = { open: "Connected", connecting: "Connecting…", offline: "Offline" }[s];
  el.textContent = text + (detail && s !== "open" ? ` — ${detail}` : "") + (queued && s !== "open" ? ` (${queued} queued)` : "");
  if (state.current) renderMessages();
}

/** After each (re)connection: send what is queued, rejoin the open conversation, catch up. */
async function caughtUp() {
  flushOutbox(true);
  if (state.current) state.socket?.send({ action: "joinConversation", conversationId: state.current });
  await loadConversations();
  for (const [id, thread] of state.threads) {
    if (thread.loaded) await fetchNewer(id);
  }
  if (state.current) markRead(state.current);
}

function newClientId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** @param {string} conversationId @param {string} text */
function queueMessage(conversationId, text) {
  const item = { clientMessageId: newClientId(), conversationId, text, tries: 0, lastTry: 0, failed: false };
  state.outbox.push(item);
  saveOutbox();
  sendQueued(item);
  renderMessages();
  if (!state.socket?.isOpen) showConnection(state.socket?.state || "offline", "messages are queued");
}

/** @param {Queued} item */
function sendQueued(item) {
  /** @type {import("../../clients/typescript/src/chat-client.js").ActionOf<"sendMessage">} */
  const frame = { action: "sendMessage", conversationId: item.conversationId, text: item.text, clientMessageId: item.clientMessageId };
  if (state.socket?.send(frame)) {
    item.tries += 1;
    item.lastTry = Date.now();
    saveOutbox();
  }
}

/** Resends what was not acknowledged (the server dedupes by clientMessageId: never twice). */
function flushOutbox(all = false) {
  if (!state.socket?.isOpen) return;
  let changed = false;
  for (const item of state.outbox) {
    if (item.failed) continue;
    if (item.tries >= MAX_TRIES) { item.failed = true; changed = true; continue; }
    if (all || Date.now() - item.lastTry > RETRY_MS) sendQueued(item);
  }
  if (changed) { saveOutbox(); renderMessages(); }
}
setInterval(() => flushOutbox(false), 2000);

/** @param {string | null | undefined} clientMessageId */
function acknowledged(clientMessageId) {
  const before = state.outbox.length;
  state.outbox = state.outbox.filter((m) => m.clientMessageId !== clientMessageId);
  if (state.outbox.length !== before) saveOutbox();
}

// ---------- conversations ----------

/** @param {string} id @returns {Thread} */
function thread(id) {
  let t = state.threads.get(id);
  if (!t) {
    t = { messages: new Map(), older: null, loaded: false, peerRead: 0, peerDelivered: 0 };
    state.threads.set(id, t);
  }
  return t;
}

/** @param {Schema<"MemberRef">} m @returns {string | undefined} */
function memberId(m) { return typeof m === "string" ? m : m?.id; }

/** @param {ConversationView} conv */
function rememberMembers(conv) {
  for (const m of conv.members || []) if (m && typeof m === "object" && m.username) state.users.set(m.id, m.username);
}

/** @param {ConversationView | undefined} conv */
function peerOf(conv) {
  if (conv?.type !== "direct") return null;
  return (conv.members || []).map(memberId).find((id) => id && id !== state.me.id) || null;
}

/** @param {ConversationView} conv */
function convName(conv) {
  if (conv.name) return conv.name;
  const peer = peerOf(conv);
  return (peer && state.users.get(peer)) || "Conversation";
}

/** @param {ConversationView} conv */
function activity(conv) { return conv.lastMessageTime || conv.createdAt || ""; }

async function loadConversations() {
  try {
    const { data } = await api.http.get("/api/conversations");
    const seen = new Set();
    for (const conv of data) {
      rememberMembers(conv);
      const old = state.convs.get(conv.id);
      state.convs.set(conv.id, { ...old, ...conv });
      seen.add(conv.id);
    }
    for (const id of [...state.convs.keys()]) if (!seen.has(id)) state.convs.delete(id);
    renderConversations();
    loadPresence();
    if (state.current) renderHeader();
  } catch (e) {
    showSidebarError(e);
  }
}

async function loadPresence() {
  const peers = [...state.convs.values()].map(peerOf).filter(/** @returns {p is string} */ (p) => !!p && !state.presence.has(p));
  await Promise.all(peers.map(async (p) => {
    try {
      const { data } = await api.http.get("/api/status/{userId}", { path: { userId: p } });
      state.presence.set(p, data);
    } catch { /* unknown presence: no dot */ }
  }));
  if (peers.length) { renderConversations(); if (state.current) renderHeader(); }
}

/** @param {string} userId */
function presenceStatus(userId) {
  const p = state.presence.get(userId);
  if (!p) return null;
  return p.online && p.status !== "offline" ? p.status : "offline";
}

function renderConversations() {
  const list = [...state.convs.values()].sort((a, b) => activity(b).localeCompare(activity(a)));
  replace($("#conversation-list"), list.map((conv) => {
    const peer = peerOf(conv);
    const status = peer ? presenceStatus(peer) : null;
    const unread = conv.id === state.current ? 0 : conv.unreadCount || 0;
    const last = conv.lastMessage;
    const lastText = last ? (last.deleted ? "Message deleted" : `${last.senderId === state.me.id ? "You: " : ""}${last.text}`) : conv.type === "direct" ? "No messages yet" : conv.type;
    const name = convName(conv);
    return h("li", { dataset: { id: conv.id } },
      h("button", {
        type: "button",
        "aria-current": conv.id === state.current ? "true" : "false",
        "aria-label": `${name}${status ? `, ${status}` : ""}${unread ? `, ${unread} unread` : ""}`,
        onclick: () => openConversation(conv.id),
      },
      h("span", { class: "dot", dataset: { status: status || "" }, title: status || "" }),
      h("span", { class: "conv-name", text: name }),
      h("span", { class: "conv-time" }, shortTime(activity(conv)), unread ? h("span", { class: "badge unread", text: unread }) : null),
      h("span", { class: "conv-last", text: lastText })));
  }));
}

/** @param {unknown} e an Error (its message is shown), or nothing to clear */
function showSidebarError(e) {
  $("#sidebar-error").textContent = e instanceof Error ? e.message : e ? String(e) : "";
}

/** @param {Message} message */
function upsertSummary(message) {
  const conv = state.convs.get(message.conversationId);
  if (!conv) { loadConversations(); return null; }
  if (!conv.lastMessage || (conv.lastMessage.seq ?? 0) <= message.seq) {
    conv.lastMessage = message;
    conv.lastMessageTime = message.createdAt;
  }
  return conv;
}

/** @param {string} username */
async function startDirect(username) {
  showSidebarError(null);
  try {
    const { data } = await api.http.post("/api/conversations/start", { body: { participants: [state.me.id, username] } });
    rememberMembers(data);
    state.convs.set(data.id, { ...state.convs.get(data.id), ...data });
    renderConversations();
    loadPresence();
    openConversation(data.id);
    return true;
  } catch (e) { showSidebarError(e); return false; }
}

/** @param {string} name @param {string[]} members @param {string} kind "channel" or "group" */
async function createGroup(name, members, kind) {
  showSidebarError(null);
  try {
    const body = { name, members };
    const { data } = kind === "channel"
      ? await api.http.post("/api/channels", { body })
      : await api.http.post("/api/groups", { body });
    await loadConversations();
    openConversation(data.id);
    return true;
  } catch (e) { showSidebarError(e); return false; }
}

async function discoverChannels() {
  try {
    const { data } = await api.http.get("/api/channels", { query: { discover: "true" } });
    replace($("#channel-list"), data.length ? data.map((c) => h("li", { class: "row" },
      h("span", { class: "spacer", text: `${c.name || "Channel"} (${c.memberCount})` }),
      // One schema answers both listings; with `discover` each item is a ChannelListing.
      ("isMember" in c ? c.isMember : true)
        ? h("button", { type: "button", class: "secondary", onclick: () => openConversation(c.id), "aria-label": `Open ${c.name}` }, "Open")
        : h("button", { type: "button", onclick: () => joinChannel(c.id), "aria-label": `Join ${c.name}` }, "Join"))) : h("li", { class: "muted", text: "No public channels yet." }));
  } catch (e) { showSidebarError(e); }
}

/** @param {string} id */
async function joinChannel(id) {
  try {
    await api.http.put("/api/channels/{id}/members", { path: { id }, body: { memberId: state.me.id } });
    await loadConversations();
    openConversation(id);
    discoverChannels();
  } catch (e) { showSidebarError(e); }
}

/** @param {string} memberId @param {Schema<"MemberAction"> | null} action */
async function changeMember(memberId, action) {
  const conv = state.current ? state.convs.get(state.current) : undefined;
  if (!conv) return;
  const init = { path: { id: conv.id }, body: action ? { memberId, action } : { memberId } };
  try {
    if (conv.type === "channel") await api.http.put("/api/channels/{id}/members", init);
    else await api.http.put("/api/groups/{id}/members", init);
    if (action === "remove" && memberId === state.me.id) {
      state.convs.delete(conv.id);
      closeConversation();
    }
    await loadConversations();
  } catch (e) { showSidebarError(e); }
}

// ---------- one conversation ----------

/** @param {string} id */
async function openConversation(id) {
  if (state.current && state.current !== id) {
    sendTyping(false);
    state.socket?.send({ action: "leaveConversation", conversationId: state.current });
  }
  state.current = id;
  state.editing = null;
  $("#chat-view").classList.add("viewing");
  $("#conversation").hidden = false;
  $("#empty").hidden = true;
  renderConversations();
  renderHeader();
  renderTyping();
  state.socket?.send({ action: "joinConversation", conversationId: id });
  const t = thread(id);
  if (!t.loaded) await loadLatest(id);
  else await fetchNewer(id);
  renderMessages(true);
  markRead(id);
  $("#composer-text").focus();
}

function closeConversation() {
  if (state.current) state.socket?.send({ action: "leaveConversation", conversationId: state.current });
  state.current = null;
  $("#chat-view").classList.remove("viewing");
  $("#conversation").hidden = true;
  $("#empty").hidden = false;
  renderConversations();
}

function renderHeader() {
  const conv = state.current ? state.convs.get(state.current) : undefined;
  if (!conv) return;
  $("#conv-title").textContent = convName(conv);
  const peer = peerOf(conv);
  const status = peer ? presenceStatus(peer) : null;
  $("#conv-presence").dataset.status = status || "";
  $("#conv-sub").textContent = peer ? status || "" : `${conv.type} · ${conv.memberCount} members`;
  $("#member-form").hidden = conv.type === "direct";
}

/** @param {string} conversationId @param {Message[]} messages */
function addMessages(conversationId, messages) {
  const t = thread(conversationId);
  for (const m of messages) {
    const old = t.messages.get(m.id);
    t.messages.set(m.id, old ? { ...old, ...m } : m);
    if (m.clientMessageId && m.senderId === state.me.id) acknowledged(m.clientMessageId);
  }
}

/** @param {string} id */
async function loadLatest(id) {
  const t = thread(id);
  try {
    const { data, nextCursor } = await api.http.get("/api/messages/{id}", { path: { id }, query: { limit: PAGE } });
    addMessages(id, data);
    t.older = nextCursor || null;
    t.loaded = true;
  } catch (e) { showSidebarError(e); }
}

async function loadOlder() {
  const id = state.current;
  if (!id) return;
  const t = thread(id);
  const older = t.older;
  if (!older || t.loadingOlder) return;
  t.loadingOlder = true;
  const box = $("#messages");
  const fromBottom = box.scrollHeight - box.scrollTop;
  try {
    const { data, nextCursor } = await api.http.get("/api/messages/{id}", { path: { id }, query: { before: older, limit: PAGE } });
    addMessages(id, data);
    t.older = nextCursor || null;
  } catch (e) { showSidebarError(e); return; } finally { t.loadingOlder = false; }
  if (id !== state.current) return;
  renderMessages();
  box.scrollTop = box.scrollHeight - fromBottom;
}

/** Catch-up after a reconnection: every message after the newest one held, page by page. */
/** @param {string} id */
async function fetchNewer(id) {
  const t = thread(id);
  const newest = sortedMessages(t).at(-1);
  if (!newest) return loadLatest(id);
  /** @type {string | null | undefined} */
  let cursor = newest.id;
  /** @type {Message[]} */
  let got = [];
  try {
    for (let i = 0; i < 20 && cursor; i++) {
      /** @type {{data: Message[], nextCursor?: string}} (annotated: `cursor` feeds the loop) */
      const { data, nextCursor } = await api.http.get("/api/messages/{id}", { path: { id }, query: { after: cursor, limit: 100 } });
      addMessages(id, data);
      got = got.concat(data);
      cursor = data.length ? nextCursor : null;
    }
  } catch (e) { showSidebarError(e); }
  const lastFromOthers = got.filter((m) => m.senderId !== state.me.id).at(-1);
  if (lastFromOthers) state.socket?.send({ action: "delivered", conversationId: id, upToMessageId: lastFromOthers.id });
  for (const m of got) upsertSummary(m);
  if (got.length) renderConversations();
  if (id === state.current) renderMessages();
}

/** @param {Thread} t */
function sortedMessages(t) {
  return [...t.messages.values()].sort((a, b) => a.seq - b.seq);
}

/** @param {string} id */
function markRead(id) {
  if (document.visibilityState !== "visible" || id !== state.current) return;
  const conv = state.convs.get(id);
  const newest = sortedMessages(thread(id)).at(-1);
  if (!newest) return;
  /** @type {import("../../clients/typescript/src/chat-client.js").ActionOf<"markAsRead">} */
  const frame = { action: "markAsRead", conversationId: id, upToMessageId: newest.id };
  if (!state.socket?.send(frame)) api.http.post("/api/conversations/{id}/read", { path: { id }, body: { upToMessageId: newest.id } }).catch(() => {});
  if (conv && conv.unreadCount) { conv.unreadCount = 0; renderConversations(); }
}

/** @param {Thread} t @param {Message} m @returns {[string, string]} */
function tickState(t, m) {
  if (m.seq <= t.peerRead) return ["read", "✓✓ Read"];
  if (m.seq <= t.peerDelivered) return ["delivered", "✓✓ Delivered"];
  return ["sent", "✓ Sent"];
}

function renderMessages(toBottom = false) {
  const id = state.current;
  if (!id) return;
  const t = thread(id);
  const box = $("#messages");
  const atBottom = toBottom || box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  const items = sortedMessages(t).map((m) => messageItem(t, m));
  const pending = state.outbox.filter((m) => m.conversationId === id).map((m) => pendingItem(m));
  replace($("#message-list"), items, pending);
  $("#older-button").hidden = !t.older;
  if (atBottom) box.scrollTop = box.scrollHeight;
}

/** @param {Thread} t @param {Message} m */
function messageItem(t, m) {
  const mine = m.senderId === state.me.id;
  const sender = mine ? "You" : state.users.get(m.senderId) || lookupUser(m.senderId);
  const [tick, tickText] = mine ? tickState(t, m) : [null, null];
  const reactions = (m.reactions || []).filter((r) => r.count > 0);
  return h("li", { class: `message${mine ? " mine" : ""}${m.deleted ? " deleted" : ""}`, dataset: { id: m.id, seq: m.seq } },
    h("div", { class: "meta" },
      h("span", { class: "sender", text: sender }),
      h("time", { datetime: m.createdAt, text: shortTime(m.createdAt) }),
      m.editedAt ? h("span", { class: "edited", text: "(edited)" }) : null,
      mine ? h("span", { class: "tick", dataset: { state: tick }, text: tickText }) : null),
    h("p", { class: "text", text: m.deleted ? "Message deleted" : m.text }),
    m.deleted ? null : h("div", { class: "reactions" },
      reactions.map((r) => h("button", {
        type: "button", class: "reaction", "aria-pressed": r.mine ? "true" : "false",
        "aria-label": `${r.reaction} ${r.count}${r.mine ? ", yours: remove" : ": add yours"}`,
        onclick: () => toggleReaction(m, r.reaction),
      }, `${r.reaction} ${r.count}`)),
      QUICK_REACTIONS.filter((q) => !reactions.some((r) => r.reaction === q)).slice(0, 1).map((q) =>
        h("button", { type: "button", class: "react", "aria-label": `React ${q}`, onclick: () => toggleReaction(m, q) }, `+${q}`)),
      mine ? h("button", { type: "button", class: "link edit", "aria-label": "Edit message", onclick: () => startEdit(m) }, "Edit") : null));
}

/** @param {Queued} item */
function pendingItem(item) {
  const open = state.socket?.isOpen;
  const [s, label] = item.failed ? ["failed", "Not sent"] : open ? ["sending", "Sending…"] : ["queued", "Queued — sent when back online"];
  return h("li", { class: "message mine pending", dataset: { clientId: item.clientMessageId } },
    h("div", { class: "meta" },
      h("span", { class: "sender", text: "You" }),
      h("span", { class: "tick", dataset: { state: s }, text: label }),
      item.failed ? h("button", { type: "button", class: "link", onclick: () => { item.failed = false; item.tries = 0; saveOutbox(); sendQueued(item); renderMessages(); } }, "Retry") : null),
    h("p", { class: "text", text: item.text }));
}

const lookups = new Map();
/** @param {string} id */
function lookupUser(id) {
  if (!lookups.has(id)) {
    lookups.set(id, api.http.get("/api/users/{id}", { path: { id } }).then(({ data }) => {
      state.users.set(id, data.username);
      renderMessages();
    }).catch(() => {}));
  }
  return "…";
}

/** @param {Message} m @param {string} reaction */
function toggleReaction(m, reaction) {
  const r = (m.reactions || []).find((x) => x.reaction === reaction);
  const action = r?.mine ? "unreact" : "react";
  if (!state.socket?.send({ action, messageId: m.id, reaction })) {
    const init = { path: { id: m.id, reaction } };
    (action === "react" ? api.http.put("/api/messages/{id}/reactions/{reaction}", init) : api.http.delete("/api/messages/{id}/reactions/{reaction}", init)).then(() => applyReaction(m.conversationId, m.id, reaction, state.me.id, action === "react")).catch(showSidebarError);
  }
}

/** @param {string} conversationId @param {string} messageId @param {string} reaction @param {string} userId @param {boolean} added */
function applyReaction(conversationId, messageId, reaction, userId, added) {
  const m = thread(conversationId).messages.get(messageId);
  if (!m) return;
  const reactions = (m.reactions = m.reactions || []);
  let r = reactions.find((x) => x.reaction === reaction);
  if (!r) { r = { reaction, count: 0, mine: false }; reactions.push(r); }
  const mine = userId === state.me.id;
  if (mine && r.mine === added) return; // a repeat, confirmed to this connection only
  r.count = Math.max(0, r.count + (added ? 1 : -1));
  if (mine) r.mine = added;
  if (conversationId === state.current) renderMessages();
}

/** @param {Message} m */
function startEdit(m) {
  state.editing = m.id;
  $("#editing").hidden = false;
  const box = $("#composer-text");
  box.value = m.text;
  box.focus();
}

function cancelEdit() {
  state.editing = null;
  $("#editing").hidden = true;
  $("#composer-text").value = "";
}

function submitComposer() {
  const box = $("#composer-text");
  const text = box.value;
  if (!state.current || !text.trim()) return;
  if (state.editing) {
    const messageId = state.editing;
    if (!state.socket?.send({ action: "editMessage", messageId, text })) {
      api.http.patch("/api/messages/{id}", { path: { id: messageId }, body: { text } }).then(({ data }) => onEvent({ event: "messageEdited", data: { message: data } })).catch(showSidebarError);
    }
    cancelEdit();
    return;
  }
  box.value = "";
  sendTyping(false);
  queueMessage(state.current, text);
  renderMessages(true);
}

// ---------- typing ----------

let typingSentAt = 0;
/** @type {ReturnType<typeof setTimeout> | undefined} */
let typingStop;

/** @param {boolean} isTyping */
function sendTyping(isTyping) {
  clearTimeout(typingStop);
  if (!state.current) return;
  if (isTyping) {
    if (Date.now() - typingSentAt > 3000) {
      if (state.socket?.send({ action: "typing", conversationId: state.current, isTyping: true })) typingSentAt = Date.now();
    }
    typingStop = setTimeout(() => sendTyping(false), 4000);
  } else if (typingSentAt) {
    typingSentAt = 0;
    state.socket?.send({ action: "typing", conversationId: state.current, isTyping: false });
  }
}

/** @param {string} conversationId @param {string} userId @param {boolean} isTyping @param {string} [expiresAt] */
function setTyping(conversationId, userId, isTyping, expiresAt) {
  let who = state.typing.get(conversationId);
  if (!who) state.typing.set(conversationId, (who = new Map()));
  clearTimeout(who.get(userId));
  who.delete(userId);
  if (isTyping) {
    const ms = Math.min(10000, Math.max(1000, (Date.parse(expiresAt ?? "") || Date.now() + 8000) - Date.now()));
    who.set(userId, setTimeout(() => setTyping(conversationId, userId, false), ms));
  }
  if (conversationId === state.current) renderTyping();
}

function renderTyping() {
  const who = [...((state.current && state.typing.get(state.current)?.keys()) || [])].map((id) => state.users.get(id) || "Someone");
  $("#typing").textContent = who.length ? `${who.join(", ")} ${who.length > 1 ? "are" : "is"} typing…` : "";
}

// ---------- events ----------

/** @param {ServerEvent} frame */
function onEvent(frame) {
  const { event, data } = frame;
  switch (event) {
    case "chatMessage": {
      const m = data.message;
      if (data.sender) state.users.set(data.sender.id, data.sender.username);
      addMessages(m.conversationId, [m]);
      const conv = upsertSummary(m);
      if (m.senderId !== state.me.id) {
        setTyping(m.conversationId, m.senderId, false);
        state.socket?.send({ action: "delivered", conversationId: m.conversationId, upToMessageId: m.id });
        if (m.conversationId === state.current && document.visibilityState === "visible") markRead(m.conversationId);
        else if (conv) conv.unreadCount = (conv.unreadCount || 0) + 1;
      }
      renderConversations();
      if (m.conversationId === state.current) renderMessages();
      break;
    }
    case "messageReceived": {
      acknowledged(data.clientMessageId);
      addMessages(data.message.conversationId, [data.message]);
      upsertSummary(data.message);
      renderConversations();
      if (data.message.conversationId === state.current) renderMessages();
      break;
    }
    case "messagesRead":
    case "messagesDelivered": {
      if (data.userId === state.me.id) break;
      const t = thread(data.conversationId);
      if (event === "messagesRead") t.peerRead = Math.max(t.peerRead, data.readSeq);
      const seq = event === "messagesRead" ? data.readSeq : data.deliveredSeq;
      t.peerDelivered = Math.max(t.peerDelivered, seq);
      if (data.conversationId === state.current) renderMessages();
      break;
    }
    case "messagesMarkedRead": {
      const conv = state.convs.get(data.conversationId);
      if (conv) { conv.unreadCount = data.unreadCount; renderConversations(); }
      break;
    }
    case "messageEdited": {
      const m = data.message;
      addMessages(m.conversationId, [m]);
      const conv = state.convs.get(m.conversationId);
      if (conv && conv.lastMessage?.id === m.id) { conv.lastMessage = m; renderConversations(); }
      if (m.conversationId === state.current) renderMessages();
      break;
    }
    case "messageDeleted": {
      const m = thread(data.conversationId).messages.get(data.messageId);
      if (m) { m.deleted = true; m.text = ""; }
      if (data.conversationId === state.current) renderMessages();
      break;
    }
    case "reactionAdded":
    case "reactionRemoved":
      applyReaction(data.conversationId, data.messageId, data.reaction, data.userId, event === "reactionAdded");
      break;
    case "typingStatus":
      if (data.userId !== state.me.id) setTyping(data.conversationId, data.userId, data.isTyping, data.expiresAt);
      break;
    case "presence": {
      state.presence.set(data.userId, data);
      if (data.userId === state.me.id) $("#status-select").value = data.status;
      renderConversations();
      if (state.current) renderHeader();
      break;
    }
    case "membership":
      loadConversations();
      break;
    case "notification":
      if (data?.type === "missedMessages") loadConversations();
      break;
    case "error":
      showSidebarError(new Error(data?.message || "The server refused a request."));
      break;
    default:
      break;
  }
}

// ---------- wiring ----------

function bindStatic() {
  $("#auth-form").addEventListener("submit", (/** @type {Event} */ e) => { e.preventDefault(); authenticate("login"); });
  $("#register-button").addEventListener("click", () => authenticate("register"));
  $("#logout-button").addEventListener("click", logout);
  $("#status-select").addEventListener("change", () => {
    /** @type {Schema<"StatusName">} */
    const status = $("#status-select").value;
    if (!state.socket?.send({ action: "setStatus", status })) api.http.put("/api/status", { body: { status } }).catch(showSidebarError);
  });
  $("#start-form").addEventListener("submit", async (/** @type {Event} */ e) => {
    e.preventDefault();
    const input = $("#start-username");
    if (input.value.trim() && (await startDirect(input.value.trim()))) input.value = "";
  });
  $("#group-form").addEventListener("submit", async (/** @type {Event} */ e) => {
    e.preventDefault();
    const name = $("#group-name").value.trim();
    const members = $("#group-members").value.split(",").map((/** @type {string} */ s) => s.trim()).filter(Boolean);
    if (name && (await createGroup(name, members, $("#group-kind").value))) {
      $("#group-name").value = "";
      $("#group-members").value = "";
    }
  });
  $("#discover").addEventListener("toggle", () => { if ($("#discover").open) discoverChannels(); });
  $("#member-form").addEventListener("submit", (/** @type {Event} */ e) => {
    e.preventDefault();
    const name = $("#member-name").value.trim();
    if (name) { changeMember(name, null); $("#member-name").value = ""; }
  });
  $("#leave-button").addEventListener("click", () => changeMember(state.me.id, "remove"));
  $("#back-button").addEventListener("click", closeConversation);
  $("#older-button").addEventListener("click", loadOlder);
  $("#messages").addEventListener("scroll", () => { if ($("#messages").scrollTop < 40) loadOlder(); });
  $("#composer").addEventListener("submit", (/** @type {Event} */ e) => { e.preventDefault(); submitComposer(); });
  const box = $("#composer-text");
  box.addEventListener("keydown", (/** @type {KeyboardEvent} */ e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); submitComposer(); }
    else if (e.key === "Escape" && state.editing) { e.preventDefault(); cancelEdit(); }
  });
  box.addEventListener("input", () => { if (!state.editing) sendTyping(box.value.length > 0); });
  document.addEventListener("visibilitychange", () => { if (state.current) markRead(state.current); });
}

boot();
