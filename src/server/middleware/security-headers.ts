/**
 * Security headers on every response, errors included: hono's secureHeaders defaults, tightened
 * (HSTS two years, a strict CSP, DENY framing, no referrer), and `Cache-Control: no-store` on the
 * API, whose answers may carry tenant data.
 *
 * They are set before the handler runs, so Hono builds the response with them. Setting a header
 * after the handler returned (`c.header()` once the response exists) makes Hono copy the whole
 * Response, and the HTTP adapter then streams the copy's body instead of writing the string it
 * was given: a cost every request paid (bench/security-headers.bench.ts).
 */
import { Hono, type MiddlewareHandler } from "hono";

type HeaderList = readonly (readonly [name: string, value: string])[];

const SECURITY_HEADERS: HeaderList = [
  [
    "Content-Security-Policy",
    "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
  ],
  ["Cross-Origin-Opener-Policy", "same-origin"],
  ["Cross-Origin-Resource-Policy", "same-origin"],
  ["Origin-Agent-Cluster", "?1"],
  ["Referrer-Policy", "no-referrer"],
  ["Strict-Transport-Security", "max-age=63072000; includeSubDomains"],
  ["X-Content-Type-Options", "nosniff"],
  ["X-DNS-Prefetch-Control", "off"],
  ["X-Download-Options", "noopen"],
  ["X-Frame-Options", "DENY"],
  ["X-Permitted-Cross-Domain-Policies", "none"],
  // The XSS auditor of old browsers is itself a leak; 0 turns it off (OWASP's advice).
  ["X-XSS-Protection", "0"],
];

const API_HEADERS: HeaderList = [...SECURITY_HEADERS, ["Cache-Control", "no-store"]];

export function securityHeaders(): MiddlewareHandler {
  return async (c, next) => {
    const wanted = c.req.path.startsWith("/api/") ? API_HEADERS : SECURITY_HEADERS;
    for (const [name, value] of wanted) c.header(name, value);
    await next();
    // A handler that returned a Response of its own, or set one of these headers to another
    // value, is corrected in place: the response's own headers are set, nothing is copied.
    const headers = c.res.headers;
    for (const [name, value] of wanted) if (headers.get(name) !== value) headers.set(name, value);
    headers.delete("X-Powered-By");
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
