/**
 * A signal that aborts when the client goes away before its answer was written: what a handler
 * hands to work it starts on the client's behalf (a model's stream), so that work ends with it.
 *
 * Served by @hono/node-server, it listens on the socket's response: a close before the response
 * finished is a client gone. It does not touch `c.req.raw`, which the adapter would build then,
 * wrapping the request's body stream a second time after the handler read it from the socket
 * (src/server/json-body.ts) and breaking the answer. Under `app.request` (tests), where there is
 * no socket, the request's own signal says it.
 */
import type { HttpBindings } from "@hono/node-server";
import type { Context } from "hono";
import type { AppEnv } from "./deps.js";

export function clientGone(c: Context<AppEnv>): AbortSignal {
  const outgoing = (c.env as Partial<HttpBindings> | undefined)?.outgoing;
  if (!outgoing) return c.req.raw.signal;
  const gone = new AbortController();
  outgoing.once("close", () => {
    if (!outgoing.writableFinished) gone.abort(new Error("the client closed the connection"));
  });
  return gone.signal;
}
