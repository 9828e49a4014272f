/**
 * Streamed downloads (the tenant export, the audit export). Once the 200 and the first bytes are
 * out, a failure can no longer change the status, so it must not pass for the end of the file:
 * the body is sent chunked, and a failure destroys the connection before the terminating chunk.
 * A client sees a connection error (Node: "aborted"/ECONNRESET; curl: exit 18; a browser: a
 * failed download), never a short body that looks complete. Without the explicit chunked framing
 * the HTTP adapter reads the first chunks ahead and, when the stream fails right away, answers
 * 200 with a Content-Length that makes the truncated body look whole.
 *
 * Each chunk leaves only once every commit made so far is on disk (Database.whenDurable): an export
 * never carries what a power cut could still take back (src/server/middleware/durable-answers.ts).
 */
import type { HttpBindings } from "@hono/node-server";
import { Readable } from "node:stream";
import type { Context } from "hono";
import type { AppDeps, AppEnv } from "./deps.js";

/** The response for a streamed body; a failure midway is logged (name and message, no stack) and cuts the response off. */
export function streamedBody(
  c: Context<AppEnv>,
  body: Readable | ReadableStream<Uint8Array>,
  { log, durability }: Pick<AppDeps, "log" | "durability">,
  what: string,
): Response {
  const source = (body instanceof Readable ? Readable.toWeb(body) : body) as ReadableStream<Uint8Array>;
  const reader = source.getReader();
  const requestId = c.get("requestId");
  // The socket's response, when served by @hono/node-server (absent under app.request in tests).
  const outgoing = (c.env as Partial<HttpBindings> | undefined)?.outgoing;
  const guarded = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = await reader.read();
        await durability.whenDurable();
        if (next.done) controller.close();
        else controller.enqueue(next.value);
      } catch (error) {
        const { name, message } = error instanceof Error ? error : new Error(String(error));
        log.warn({ requestId, error: { name, message } }, `${what} failed midway; the response was cut off`);
        // Destroyed without an error: the adapter then cancels this stream quietly instead of printing the error's stack.
        if (outgoing) outgoing.destroy();
        else controller.error(error);
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
  c.header("Transfer-Encoding", "chunked");
  return c.body(guarded);
}
