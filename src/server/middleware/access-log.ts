/** One structured line per request: client address, method, path (never the query string, which may carry tokens), status, time. */
import type { MiddlewareHandler } from "hono";
import type { Logger } from "../../log.js";
import type { AppEnv } from "../deps.js";

export function accessLog(log: Logger): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = performance.now();
    await next();
    log.info(
      {
        requestId: c.get("requestId"),
        client: c.get("clientAddress"),
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        ms: Math.round((performance.now() - started) * 10) / 10,
      },
      "request",
    );
  };
}
