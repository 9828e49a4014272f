/** One structured line per request: method, path (never the query string, which may carry tokens), status, time. */
import type { MiddlewareHandler } from "hono";
import type { Logger } from "../../log.js";

export function accessLog(log: Logger): MiddlewareHandler {
  return async (c, next) => {
    const started = performance.now();
    await next();
    log.info(
      {
        requestId: c.get("requestId"),
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        ms: Math.round((performance.now() - started) * 10) / 10,
      },
      "request",
    );
  };
}
