// Compile-time tests of the typed client (checked by `npm run check`, never run): what the
// contract allows compiles, what it refuses is a type error (`@ts-expect-error` fails the check
// when the line compiles after all).
import { ChatHttp, ChatSocket, type Schema } from "../src/chat-client.js";

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;
function assertType<T extends true>(_: T): void {}

const http = new ChatHttp({ baseUrl: "http://127.0.0.1:4000", token: () => "eyJ…" });
const socket = new ChatSocket();

export async function httpCallsAreTypedByTheirOperation(): Promise<void> {
  // A body route: the body is the operation's schema; the reply is the envelope's `data`.
  const { data: session } = await http.post("/api/users/register", { body: { username: "alice", password: "correct horse" } });
  assertType<Equal<typeof session.token, string>>(true);
  // @ts-expect-error a registration needs a password
  await http.post("/api/users/register", { body: { username: "alice" } });
  // @ts-expect-error no such route
  await http.get("/api/nowhere");
  // @ts-expect-error register is a POST
  await http.get("/api/users/register");

  // Path parameters are named and required; query parameters are typed.
  const page = await http.get("/api/messages/{id}", { path: { id: "conv_1" }, query: { limit: 30 } });
  assertType<Equal<typeof page.data, Schema<"Message">[]>>(true);
  assertType<Equal<typeof page.nextCursor, string | undefined>>(true);
  // @ts-expect-error the path parameter is missing
  await http.get("/api/messages/{id}", { query: { limit: 30 } });
  // @ts-expect-error `limit` is a number
  await http.get("/api/messages/{id}", { path: { id: "conv_1" }, query: { limit: "30" } });

  // A route with nothing to pass takes no second argument.
  const me = await http.get("/api/users/me");
  assertType<Equal<typeof me.data, Schema<"UserView">>>(true);

  // @ts-expect-error an edit's text is required
  await http.patch("/api/messages/{id}", { path: { id: "msg_1" }, body: {} });
}

export function socketFramesAreTypedByTheAsyncApiDocument(): void {
  socket.send({ action: "ping" });
  socket.send({ action: "sendMessage", conversationId: "conv_1", text: "hi", clientMessageId: "c1" });
  socket.send({ action: "typing", conversationId: "conv_1", isTyping: true });
  // @ts-expect-error no such action
  socket.send({ action: "shout" });
  // @ts-expect-error `isTyping` is a boolean
  socket.send({ action: "typing", conversationId: "conv_1", isTyping: "yes" });
  // @ts-expect-error a message goes to a conversation or a user
  socket.send({ action: "sendMessage", text: "to nobody" });

  socket.on("pong", (data) => { assertType<Equal<typeof data.time, string>>(true); });
  socket.on("chatMessage", (data) => { void data.message.conversationId; });
  // @ts-expect-error no such event
  socket.on("shouted", () => {});
  socket.onEvent((frame) => {
    if (frame.event === "typingStatus") { const typing: boolean = frame.data.isTyping; void typing; }
  });
}
