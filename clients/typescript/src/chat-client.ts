// The typed client of the chat backend: HTTP calls typed by the generated `paths` of
// docs/openapi.json (the `{success, data}` envelope unwrapped, the error envelope thrown as an
// `ApiError`) and a WebSocket wrapper typed by the actions and events of docs/asyncapi.yaml.
// No dependency: `fetch` and `WebSocket` of the browser (or Node 20). The web client runs the
// compiled module, web/js/chat-client.js, written by `npm run build` in clients/typescript from
// this file: edit this file, not that one.
import type { components, paths } from "./generated/openapi.js";
import type { Action, ActionName, ActionOf, EventData, EventName, EventOf, ServerEvent } from "./generated/asyncapi.js";
import type { components as wsComponents } from "./generated/asyncapi.js";

export type { Action, ActionName, ActionOf, EventData, EventName, EventOf, ServerEvent, paths };

/** A schema of the HTTP API by name, e.g. `Schema<"Message">`. */
export type Schema<N extends keyof components["schemas"]> = components["schemas"][N];
/** A schema of the WebSocket API by name, e.g. `WsSchema<"MessagePush">`. */
export type WsSchema<N extends keyof wsComponents["schemas"]> = wsComponents["schemas"][N];
/** The error codes of the error envelope, and `NETWORK` when no answer came at all. */
export type ErrorCode = Schema<"ErrorCode"> | "NETWORK";

// ---------- HTTP ----------

export type Method = "get" | "put" | "post" | "delete" | "patch";
/** The paths that have an operation for `M`, e.g. `PathsFor<"post">`. */
export type PathsFor<M extends Method> = { [P in keyof paths]: paths[P][M] extends undefined ? never : P }[keyof paths];
/** The operation of `method path`. */
export type Operation<P extends keyof paths, M extends Method> = Exclude<paths[P][M], undefined>;

type IsNever<T> = [T] extends [never] ? true : false;
type PathPart<O> = O extends { parameters: { path: infer X } } ? (IsNever<X> extends true ? {} : { path: X }) : {};
type QueryPart<O> = O extends { parameters: { query: infer Q } }
  ? IsNever<Q> extends true ? {} : { query: Q }
  : O extends { parameters: { query?: infer Q } }
    ? IsNever<Exclude<Q, undefined>> extends true ? {} : { query?: Q }
    : {};
type BodyPart<O> = O extends { requestBody: { content: { "application/json": infer B } } }
  ? { body: B }
  : O extends { requestBody?: { content: { "application/json": infer B } } }
    ? IsNever<B> extends true ? {} : { body?: B }
    : {};
/** What a call passes besides its method and path: path parameters, query and body, as the operation declares them. */
export type Init<O> = PathPart<O> & QueryPart<O> & BodyPart<O>;
/** The argument list after the path: optional when nothing in `Init` is required. */
export type InitArgs<O> = {} extends Init<O> ? [init?: Init<O>] : [init: Init<O>];

type SuccessJson<O> = O extends { responses: infer R }
  ? { [S in keyof R]: S extends 200 | 201 ? R[S] extends { content: { "application/json": infer J } } ? J : never : never }[keyof R]
  : never;
/** A page's `data` is `unknown[] & Item[]` (the `Page` schema and the route's items): `Item[]`. */
type Items<D> = D extends readonly unknown[] ? D[number][] : D;
/** What a successful call resolves to: the envelope's `data`, and `nextCursor` for a page. */
export type Reply<O> = { data: SuccessJson<O> extends { data?: infer D } ? Items<Exclude<D, undefined>> : undefined } & (SuccessJson<O> extends { nextCursor?: infer C } ? { nextCursor?: C } : {});

/** A refused call: the error envelope's fields, with the HTTP status (0: the server was not reached). */
export class ApiError extends Error {
  readonly status: number;
  readonly code: ErrorCode | undefined;
  readonly details: unknown;
  constructor(status: number, code: ErrorCode | undefined, message: string | undefined, details?: unknown) {
    super(message || code || `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export interface HttpOptions {
  /** The HTTP API's base URL, e.g. `https://abc.execute-api.eu-west-1.amazonaws.com`. */
  baseUrl: string;
  /** The bearer token to send, if any (read at each call). */
  token?: () => string | null | undefined;
  /** Called on a 401 to a call that carried a token (the session ended). */
  onUnauthorized?: () => void;
  fetch?: typeof fetch;
}

type QueryValue = string | number | boolean | null | undefined;

/** The HTTP API: `http.get("/api/messages/{id}", { path: { id }, query: { limit: 30 } })`. */
export class ChatHttp {
  readonly baseUrl: string;
  private readonly options: HttpOptions;

  constructor(options: HttpOptions) {
    this.options = options;
    this.baseUrl = options.baseUrl.replace(/\/$/, "");
  }

  get<P extends PathsFor<"get">>(path: P, ...init: InitArgs<Operation<P, "get">>): Promise<Reply<Operation<P, "get">>> {
    return this.call("GET", path, init[0]);
  }
  post<P extends PathsFor<"post">>(path: P, ...init: InitArgs<Operation<P, "post">>): Promise<Reply<Operation<P, "post">>> {
    return this.call("POST", path, init[0]);
  }
  put<P extends PathsFor<"put">>(path: P, ...init: InitArgs<Operation<P, "put">>): Promise<Reply<Operation<P, "put">>> {
    return this.call("PUT", path, init[0]);
  }
  patch<P extends PathsFor<"patch">>(path: P, ...init: InitArgs<Operation<P, "patch">>): Promise<Reply<Operation<P, "patch">>> {
    return this.call("PATCH", path, init[0]);
  }
  delete<P extends PathsFor<"delete">>(path: P, ...init: InitArgs<Operation<P, "delete">>): Promise<Reply<Operation<P, "delete">>> {
    return this.call("DELETE", path, init[0]);
  }

  /** The URL of `path` with its `{name}` parameters filled in (encoded) and the query appended. */
  url(path: string, params?: Record<string, unknown>, query?: Record<string, QueryValue>): string {
    const filled = path.replace(/\{(\w+)\}/g, (_, name: string) => {
      const value = params?.[name];
      if (value === undefined || value === null) throw new TypeError(`${path}: no value for {${name}}`);
      return encodeURIComponent(String(value));
    });
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== null) q.set(k, String(v));
    const qs = q.toString();
    return this.baseUrl + filled + (qs ? `?${qs}` : "");
  }

  private async call(method: string, path: string, init: unknown): Promise<never> {
    const { path: params, query, body } = (init ?? {}) as { path?: Record<string, unknown>; query?: Record<string, QueryValue>; body?: unknown };
    const headers: Record<string, string> = {};
    if (body !== undefined) headers["content-type"] = "application/json";
    const token = this.options.token?.();
    if (token) headers.authorization = `Bearer ${token}`;
    let res: Response;
    try {
      res = await (this.options.fetch ?? fetch)(this.url(path, params, query), {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new ApiError(0, "NETWORK", "The server cannot be reached.");
    }
    let json: unknown = null;
    try { json = await res.json(); } catch { /* an empty or non-JSON body */ }
    const envelope = (json ?? {}) as { success?: boolean; data?: unknown; nextCursor?: string; message?: string; error?: Partial<Schema<"ErrorBody">> };
    if (!res.ok || json === null || envelope.success === false) {
      if (res.status === 401 && token) this.options.onUnauthorized?.();
      const err = envelope.error;
      throw new ApiError(res.status, err?.code, err?.message || envelope.message, err?.details);
    }
    // The generic signatures above give the type; this is the envelope's `data` (and cursor).
    return { data: envelope.data, nextCursor: envelope.nextCursor } as never;
  }
}

// ---------- WebSocket ----------

type Handler<E extends EventName> = (data: EventData<E>, frame: EventOf<E>) => void;

/**
 * A WebSocket typed by the contract: `send(action)` takes only an action of the AsyncAPI
 * document, `on(event, handler)` hands each event's `data` typed. It wraps one socket at a time
 * (`attach`); opening, tickets and reconnection are the application's.
 */
export class ChatSocket {
  private ws: WebSocket | null = null;
  private readonly handlers = new Map<EventName, Set<(data: never, frame: never) => void>>();
  private readonly any = new Set<(frame: ServerEvent) => void>();

  /** Routes the frames of `ws` to the handlers; the previous socket, if any, is no longer read. */
  attach(ws: WebSocket): void {
    if (this.ws) this.ws.onmessage = null;
    this.ws = ws;
    ws.onmessage = (msg: MessageEvent) => {
      let frame: unknown;
      try { frame = JSON.parse(String(msg.data)); } catch { return; }
      if (frame && typeof frame === "object" && typeof (frame as { event?: unknown }).event === "string") {
        this.dispatch(frame as ServerEvent);
      }
    };
  }

  /** Forgets the socket (it is not closed here). */
  detach(): void {
    if (this.ws) this.ws.onmessage = null;
    this.ws = null;
  }

  get isOpen(): boolean {
    return this.ws?.readyState === 1; // WebSocket.OPEN
  }

  /** Sends an action now; false when no socket is open (the caller queues or falls back to HTTP). */
  send(action: Action): boolean {
    if (!this.ws || !this.isOpen) return false;
    this.ws.send(JSON.stringify(action));
    return true;
  }

  /** Calls `handler` with each `event`'s data; returns the function that stops it. */
  on<E extends EventName>(event: E, handler: Handler<E>): () => void {
    let set = this.handlers.get(event);
    if (!set) this.handlers.set(event, (set = new Set()));
    const h = handler as unknown as (data: never, frame: never) => void;
    set.add(h);
    return () => { set.delete(h); };
  }

  /** Calls `handler` with every event frame (a `switch (frame.event)` narrows `frame.data`). */
  onEvent(handler: (frame: ServerEvent) => void): () => void {
    this.any.add(handler);
    return () => { this.any.delete(handler); };
  }

  private dispatch(frame: ServerEvent): void {
    for (const h of this.handlers.get(frame.event) ?? []) (h as (data: unknown, frame: unknown) => void)(frame.data, frame);
    for (const h of this.any) h(frame);
  }
}
