/**
 * Origin: a browser names the page that sent a request. A request to /mcp that names any origin
 * but this appliance's own is refused with 403 before anything else is done, token or not (the
 * MCP transport rules: it stops a web page from driving MCP with a token a browser holds, and DNS
 * rebinding). Clients that are not browsers send no Origin and pass. "Own" is the origin the
 * request itself was addressed to: https and its Host. A name rebound to this appliance cannot
 * present its TLS certificate, so a browser does not complete such a request in the first place.
 *
 * A global middleware that looks at one path, rather than one mounted on the path: the route
 * table (and the OpenAPI document made from it) then holds only the endpoints.
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../deps.js";
import { ProblemError } from "../problem.js";

export function sameOriginOnly(path: string): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const origin = c.req.header("origin");
    if (origin !== undefined && c.req.path === path && origin !== new URL(c.req.url).origin)
      throw new ProblemError(403, "forbidden", `requests to ${path} from another origin are refused`);
    await next();
  };
}
