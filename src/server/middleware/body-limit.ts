/** Refuses request bodies over the configured size with 413 before they are read into memory. */
import type { MiddlewareHandler } from "hono";
import { bodyLimit as honoBodyLimit } from "hono/body-limit";
import { ProblemError } from "../problem.js";

export function bodyLimit(maxBytes: number): MiddlewareHandler {
  const tooLarge = (): never => {
    throw new ProblemError(413, "payload-too-large", `request body exceeds ${maxBytes} bytes`, { limit: maxBytes });
  };
  // A chunked body is counted as it is read, and kept for the handler (hono's body-limit).
  const chunked = honoBodyLimit({ maxSize: maxBytes, onError: tooLarge });
  return (c, next) => {
    if (c.req.header("transfer-encoding") !== undefined) return chunked(c, next);
    const declared = c.req.header("content-length");
    // RFC 9112 6.3: a request with neither Content-Length nor Transfer-Encoding has no body.
    if (declared === undefined) return next();
    // Node's parser delivers exactly Content-Length bytes (a malformed value never gets here), so
    // the header alone decides. Checked here rather than by hono's body-limit, which asks for
    // `c.req.raw.body`: that makes @hono/node-server build a whole Request and start pulling the
    // body into a web stream, past json-body.ts, which reads it from the socket's request.
    if (Number.parseInt(declared, 10) > maxBytes) tooLarge();
    return next();
  };
}
