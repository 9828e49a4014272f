/**
 * The one place reads are handed to read auditing (src/audit/read-audit.ts): after the route ran,
 * if its spec declared what it reads and the call succeeded for an authenticated caller. The
 * response is not held back: recording only queues the event.
 */
import type { MiddlewareHandler } from "hono";
import type { ReadAudit } from "../../audit/read-audit.js";
import type { AppEnv } from "../deps.js";

export function readAudit(reads: Pick<ReadAudit, "record">): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    await next();
    const read = c.get("read");
    const principal = c.get("principal");
    if (read !== undefined && principal !== undefined && c.res.status < 400) reads.record(principal, read);
  };
}
