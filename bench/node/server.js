// The seed designs' stack for the side-by-side load test (docs/PERFORMANCE.md, `perf load`):
// Node.js + Socket.IO with seed 004's rooms, messages kept in memory. It does the work our
// `sendMessage` route does, minus durability: verify the JWT at the handshake (HS256, same
// secret, issuer and audience as the Rust backend), join the user room `user_{id}` and the role
// room, and on `sendMessage` check membership, drop a retried `clientMessageId`, store the
// message (in memory), answer `messageReceived` to the sender and emit `chatMessage` to every
// member's user room (the sender's other sockets included) and `newMessage` to the admin room.
//
// PORT (default 4100), JWT_SECRET (required), JWT_ISSUER / JWT_AUDIENCE (chat-backend /
// chat-clients). Conversations are declared by POST /setup {"conversations": [{"id", "members"}]}.
"use strict";

const http = require("http");
const { Server } = require("socket.io");
const jwt = require("jsonwebtoken");

const port = Number(process.env.PORT || 4100);
const secret = process.env.JWT_SECRET;
if (!secret || secret.length < 32) {
  console.error("JWT_SECRET (at least 32 bytes) is required");
  process.exit(1);
}
const verifyOptions = {
  algorithms: ["HS256"],
  issuer: process.env.JWT_ISSUER || "chat-backend",
  audience: process.env.JWT_AUDIENCE || "chat-clients",
};

/** conversationId -> { members: Set<userId>, messages: [], seq } */
const conversations = new Map();
/** `${userId}:${clientMessageId}` -> message */
const idempotency = new Map();

const server = http.createServer((req, res) => {
  if (req.method === "POST" && req.url === "/setup") {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      try {
        for (const c of JSON.parse(body).conversations || []) {
          conversations.set(c.id, { kind: c.kind || "direct", members: new Set(c.members), messages: [], seq: 0 });
        }
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ success: true, data: { conversations: conversations.size } }));
      } catch (e) {
        res.writeHead(400, { "content-type": "application/json" });
        res.end(JSON.stringify({ success: false, error: { code: "VALIDATION_ERROR", message: String(e) } }));
      }
    });
    return;
  }
  res.writeHead(404, { "content-type": "application/json" });
  res.end(JSON.stringify({ success: false, error: { code: "NOT_FOUND", message: "not found" } }));
});

const io = new Server(server, { maxHttpBufferSize: 128 * 1024 });

io.use((socket, next) => {
  const token = (socket.handshake.auth && socket.handshake.auth.token) || socket.handshake.query.token;
  try {
    const claims = jwt.verify(token, secret, verifyOptions);
    socket.data.user = { id: claims.sub, username: claims.username, role: claims.role };
    next();
  } catch (e) {
    next(new Error("Unauthorized"));
  }
});

io.on("connection", (socket) => {
  const user = socket.data.user;
  socket.join(`user_${user.id}`);
  socket.join(user.role === "admin" ? "admin" : "user");

  socket.on("sendMessage", (data) => {
    const fail = (code, message) => socket.emit("error", { code, message });
    if (!data || typeof data.text !== "string" || data.text.trim() === "" || data.text.length > 4000) {
      return fail("VALIDATION_ERROR", "text must be 1 to 4000 characters");
    }
    const conversation = conversations.get(data.conversationId);
    if (!conversation) return fail("NOT_FOUND", "conversation not found");
    if (!conversation.members.has(user.id)) return fail("FORBIDDEN", "not a member");
    const idemKey = data.clientMessageId ? `${user.id}:${data.clientMessageId}` : null;
    if (idemKey && idempotency.has(idemKey)) {
      const message = idempotency.get(idemKey);
      return socket.emit("messageReceived", { message, clientMessageId: data.clientMessageId, duplicate: true });
    }
    conversation.seq += 1;
    const message = {
      id: `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`,
      conversationId: data.conversationId,
      senderId: user.id,
      text: data.text,
      seq: conversation.seq,
      createdAt: new Date().toISOString(),
      clientMessageId: data.clientMessageId,
    };
    conversation.messages.push(message);
    if (idemKey) idempotency.set(idemKey, message);
    socket.emit("messageReceived", { message, clientMessageId: data.clientMessageId });
    const payload = { message, sender: { id: user.id, username: user.username }, conversationType: conversation.kind };
    const rooms = [...conversation.members].map((m) => `user_${m}`);
    io.to(rooms).except(socket.id).emit("chatMessage", payload);
    io.to("admin").emit("newMessage", payload);
  });

  socket.on("ping", () => socket.emit("pong", {}));
});

server.listen(port, "127.0.0.1", () => console.log(`socket.io server on 127.0.0.1:${port}`));
