/** Security headers on every response, errors included (hono's secureHeaders, tightened). */
import { Hono, type MiddlewareHandler } from "hono";
import { secureHeaders } from "hono/secure-headers";

export function securityHeaders(): MiddlewareHandler {
  const headers = secureHeaders({
    strictTransportSecurity: "max-age=63072000; includeSubDomains",
    contentSecurityPolicy: {
      defaultSrc: ["'self'"],
      objectSrc: ["'none'"],
      baseUri: ["'none'"],
      frameAncestors: ["'none'"],
      formAction: ["'self'"],
    },
    referrerPolicy: "no-referrer",
    xFrameOptions: "DENY",
    crossOriginOpenerPolicy: "same-origin",
    crossOriginResourcePolicy: "same-origin",
    xPermittedCrossDomainPolicies: "none",
    removePoweredBy: true,
  });
  return async (c, next) => {
    await headers(c, next);
    // API answers may carry tenant data: never cache them.
    if (c.req.path.startsWith("/api/")) c.header("Cache-Control", "no-store");
  };
}

/**
 * The headers securityHeaders() puts on a response, for the few answers written outside the app
 * (src/server/transport/problem-response.ts): taken from the middleware itself, so the two cannot drift.
 */
export async function securityHeaderValues(): Promise<Record<string, string>> {
  const probe = new Hono().use(securityHeaders()).get("/", (c) => c.body(null, 204));
  const response = await probe.request("/");
  return Object.fromEntries(response.headers);
}
