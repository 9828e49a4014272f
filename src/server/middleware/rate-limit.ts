/**
 * API rate limits on every route (OWASP API4:2023, unrestricted resource consumption): per
 * client address, and per credential (the presented bearer token, by its hash: the limiter runs
 * before authentication, so even a 404 or a request with a bad token is counted). Above a limit: 429
 * too-many-requests with Retry-After. The probes /healthz and /readyz are exempt: they are
 * cheap, reveal nothing, and a throttled probe would take a healthy node out of service.
 */
import { createHash } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import type { RateLimitConfig } from "../../config.js";
import type { AppEnv } from "../deps.js";
import { ProblemError } from "../problem.js";
import { TokenBuckets } from "../token-buckets.js";
import { bearer } from "./require-scope.js";

const EXEMPT = new Set(["/healthz", "/readyz"]);

function credentialKey(token: string): string {
  // Never the token itself: the map lives as long as the process.
  return createHash("sha256").update(token).digest("base64url").slice(0, 22);
}

function refuse(what: string, seconds: number): never {
  throw new ProblemError(
    429,
    "too-many-requests",
    `too many requests from this ${what}; try again in ${seconds} seconds`,
    { retryAfterSeconds: seconds },
  );
}

export function rateLimit(config: RateLimitConfig, now: () => number = Date.now): MiddlewareHandler<AppEnv> {
  const byAddress = config.perAddress === null ? undefined : new TokenBuckets(config.perAddress);
  const byCredential = config.perCredential === null ? undefined : new TokenBuckets(config.perCredential);
  return async (c, next) => {
    if (!EXEMPT.has(c.req.path)) {
      const at = now();
      const addressWait = byAddress?.take(c.get("clientAddress"), at) ?? 0;
      if (addressWait > 0) refuse("address", addressWait);
      const token = byCredential === undefined ? undefined : bearer(c);
      const credentialWait = token === undefined ? 0 : (byCredential?.take(credentialKey(token), at) ?? 0);
      if (credentialWait > 0) refuse("credential", credentialWait);
    }
    await next();
  };
}
