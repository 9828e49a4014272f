/**
 * What the HTTP application is built from. The long-lived parts are the composition root's own
 * (src/services.ts `Services`), taken by name rather than re-declared, so a part added there is
 * one `Pick` away from the routes; the rest is how this listener serves (logging, limits, the
 * certificate). `vecto serve` (src/cli/serve.ts) builds it as `{ ...servedParts(services), log, ... }`.
 */
import type { ReadRecord } from "../audit/read-audit.js";
import type { Principal } from "../auth/principal.js";
import type { RateLimitConfig } from "../config.js";
import type { Logger } from "../log.js";
import type { Cidr } from "../net-address.js";
import type { Services } from "../services.js";
import type { ServedCertificate } from "../tls/served-certificate.js";

/**
 * The composition root's parts the routes use: the door into one tenant's data (for a scope
 * authentication minted), the readiness probes, the audit trail (exports, verification, proofs,
 * checkpoints on demand, their anchors included), the master keys (readiness checks them), key
 * operations (status, health, rotation), identity, the graph, the license (/readyz,
 * GET|PUT /api/license, read-only after expiry) and usage. Never the platform database `db`:
 * test/unit/server/served-parts.test.ts fails if it, or anything else typed as the database, is
 * added here.
 */
export type ServedParts = Pick<
  Services,
  | "door"
  | "probes"
  | "durability"
  | "auditTrail"
  | "resolver"
  | "keys"
  | "identity"
  | "graph"
  | "ai"
  | "license"
  | "usage"
>;

/**
 * The served parts of the composition root and nothing else: `buildApp({ ...servedParts(services), log, ... })`,
 * so the object the routes receive does not hold the platform database either (spreading
 * `services` itself would carry it along, out of sight of the type).
 */
export function servedParts(services: Services): ServedParts {
  const { door, probes, durability, auditTrail, resolver, keys, identity, graph, ai, license, usage } = services;
  return { door, probes, durability, auditTrail, resolver, keys, identity, graph, ai, license, usage };
}

/** How this listener serves: what is not the composition root's. */
export interface ServingSettings {
  readonly log: Logger;
  readonly bodyLimitBytes: number;
  /** Trusted proxies and rate limits (VECTO_TRUSTED_PROXIES, VECTO_RATE_LIMIT_*); absent: no proxy trusted, default limits. */
  readonly clients?: ClientPolicy;
  /** The TLS certificate being served: /readyz warns before it expires. Absent: no certificate warning (tests without a listener). */
  readonly certificate?: ServedCertificate;
}

export type AppDeps = ServedParts & ServingSettings;

export interface ClientPolicy {
  readonly trustedProxies: readonly Cidr[];
  readonly rateLimit: RateLimitConfig;
  /** The rate limiter's clock in ms (tests move it). */
  readonly now?: () => number;
}

/**
 * What the middleware chain leaves on each request's context for the handlers; `read` is what the
 * route's spec says a successful call reads (defineRoute), for the read-audit middleware.
 */
export interface AppEnv {
  Variables: { requestId: string; clientAddress: string; principal?: Principal; read?: ReadRecord };
}
