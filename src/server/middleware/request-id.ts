/** Gives every request an id (a caller's well-formed X-Request-Id is kept) for logs and problem bodies. */
import { randomUUID } from "node:crypto";
import type { MiddlewareHandler } from "hono";

const ACCEPTABLE = /^[A-Za-z0-9._-]{8,64}$/;

export function requestId(): MiddlewareHandler {
  return async (c, next) => {
    const incoming = c.req.header("x-request-id");
    const id = incoming !== undefined && ACCEPTABLE.test(incoming) ? incoming : randomUUID();
    c.set("requestId", id);
    c.header("X-Request-Id", id);
    await next();
  };
}
