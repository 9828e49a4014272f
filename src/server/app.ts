/**
 * The Hono application: the middleware chain every request passes, then the routes.
 *
 * Order matters: request id first (everything after can name the request), security headers
 * wrap everything (errors included), the access log sees the final status, the body limit runs
 * before any handler reads a body, and the license guard refuses changes while the license is
 * expired after its grace period (docs/licensing.md). The client's address is settled before
 * anything records it; the rate limit runs before any work is done for the request. MCP refuses
 * browsers' requests from other origins before authentication (src/server/mcp/origin.ts).
 */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { DEFAULT_RATE_LIMIT } from "../config.js";
import { TrustedProxies } from "../net-address.js";
import { accessLog } from "./middleware/access-log.js";
import { durableAnswers } from "./middleware/durable-answers.js";
import { clientAddress } from "./middleware/client-address.js";
import { rateLimit } from "./middleware/rate-limit.js";
import { bodyLimit } from "./middleware/body-limit.js";
import { licenseGuard } from "./middleware/license-guard.js";
import { readAudit } from "./middleware/read-audit.js";
import { requestId } from "./middleware/request-id.js";
import { securityHeaders } from "./middleware/security-headers.js";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { DomainError, unavailableKind, type DomainErrorKind, type UnavailableKind } from "../errors.js";
import { openApiRoutes } from "./openapi.js";
import { ProblemError, problemResponse, type ProblemKind } from "./problem.js";
import { ApiRegistry, attachRegistry, type ApiRouter } from "./route.js";
import { auditRoutes } from "./routes/audit.js";
import { authRoutes } from "./routes/auth.js";
import { healthRoutes } from "./routes/health.js";
import { auditIntegrityRoutes } from "./routes/audit-integrity.js";
import { gdprRoutes } from "./routes/gdpr.js";
import { keyRoutes } from "./routes/keys.js";
import { licenseRoutes } from "./routes/license.js";
import { notificationRoutes } from "./routes/notifications.js";
import { graphRoutes } from "./routes/graph.js";
import { MCP_PATH, mcpRoutes } from "./mcp/routes.js";
import { sameOriginOnly } from "./mcp/origin.js";
import { projectRoutes } from "./routes/projects.js";
import { secretRoutes } from "./routes/secrets.js";
import { sessionRoutes } from "./routes/sessions.js";
import { setupRoutes } from "./routes/setup.js";
import { tenantRoutes } from "./routes/tenants.js";
import { tenantSettingsRoutes } from "./routes/tenant-settings.js";
import { tokenRoutes } from "./routes/tokens.js";
import { userRoutes } from "./routes/users.js";
import type { AppDeps, AppEnv } from "./deps.js";

/** Routes added by callers (tests, later issues) are mounted after the built-in ones. */
export type RouteMount = (app: Hono<AppEnv>) => void;

const DOMAIN_STATUS: Record<DomainErrorKind, [ContentfulStatusCode, ProblemKind]> = {
  "invalid-credentials": [401, "unauthorized"],
  throttled: [429, "too-many-requests"],
  forbidden: [403, "forbidden"],
  "not-found": [404, "not-found"],
  conflict: [409, "conflict"],
  "precondition-failed": [412, "precondition-failed"],
  "precondition-required": [428, "precondition-required"],
  rejected: [422, "rejected"],
  // 402, not 403: the caller's rights are fine, the installation's entitlement is not (docs/licensing.md).
  "license-limit": [402, "license-limit"],
  "license-read-only": [402, "license-read-only"],
};

// Fail closed: without its key (master key not loaded, wrap not opening, no usable version) a tenant's data is neither read nor written; the client may retry.
// A retired master key's label stays in the log (onError), as for every keys-unavailable answer; the client learns the cause.
const UNAVAILABLE_PROBLEM: Record<UnavailableKind, () => ProblemError> = {
  "keys-unavailable": () =>
    new ProblemError(
      503,
      "keys-unavailable",
      "the encryption keys for this data are unavailable; nothing was read or written",
      { retryAfterSeconds: 30 },
    ),
  "master-key-retired": () =>
    new ProblemError(
      503,
      "keys-unavailable",
      "this server's master key was retired: it cannot create a data key; restart it with the current configuration; nothing was written",
      { retryAfterSeconds: 30 },
    ),
  "storage-full": () =>
    new ProblemError(
      507,
      "storage-full",
      "the appliance's storage is full: the change was not stored; retry once space has been freed",
      { retryAfterSeconds: 60 },
    ),
  // Fail-stop: after a failed fsync nothing is acknowledged until a restart recovers from the disk (wal-sync.ts).
  "storage-failed": () =>
    new ProblemError(
      503,
      "storage-failed",
      "the appliance's storage failed to make a change durable; it was not acknowledged; the appliance must be restarted",
      { retryAfterSeconds: 60 },
    ),
};

function toProblem(error: unknown): ProblemError | undefined {
  if (error instanceof ProblemError) return error;
  if (error instanceof DomainError) {
    const [status, kind] = DOMAIN_STATUS[error.kind];
    return new ProblemError(status, kind, error.message, error.details);
  }
  const unavailable = unavailableKind(error);
  if (unavailable !== undefined) return UNAVAILABLE_PROBLEM[unavailable]();
  if (error instanceof HTTPException) {
    const status = error.status;
    if (status === 413) return new ProblemError(413, "payload-too-large");
    if (status >= 400 && status < 500) return new ProblemError(status, "bad-request", error.message || undefined);
  }
  return undefined;
}

export function buildApp(deps: AppDeps, mounts: readonly RouteMount[] = []): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const clients = deps.clients ?? { trustedProxies: [], rateLimit: DEFAULT_RATE_LIMIT };
  app.use(
    "*",
    requestId(),
    securityHeaders(),
    clientAddress(new TrustedProxies(clients.trustedProxies)),
    accessLog(deps.log),
    durableAnswers(deps.durability),
    rateLimit(clients.rateLimit, clients.now),
    sameOriginOnly(MCP_PATH),
    bodyLimit(deps.bodyLimitBytes),
    licenseGuard(deps.license),
    readAudit(deps.identity.reads),
  );

  // Every built-in route goes through defineRoute, so the registry (and /api/openapi.json) sees it.
  const registry = new ApiRegistry();
  const builtIn: readonly ((deps: AppDeps) => ApiRouter)[] = [
    healthRoutes,
    setupRoutes,
    authRoutes,
    tenantRoutes,
    tenantSettingsRoutes,
    userRoutes,
    sessionRoutes,
    tokenRoutes,
    projectRoutes,
    graphRoutes,
    gdprRoutes,
    auditIntegrityRoutes,
    notificationRoutes,
    keyRoutes,
    auditRoutes,
    secretRoutes,
    licenseRoutes,
    mcpRoutes,
  ];
  for (const routes of builtIn) registry.mount(app, routes(deps));
  registry.mount(app, openApiRoutes(deps.identity.authenticator, registry));
  attachRegistry(app, registry);
  for (const mount of mounts) mount(app);

  app.notFound((c) =>
    problemResponse(c, new ProblemError(404, "not-found", `no route for ${c.req.method} ${c.req.path}`)),
  );
  app.onError((error, c) => {
    const problem = toProblem(error);
    // The operator's side of a 503/507: which part failed (crypto and storage messages name no secrets).
    if (problem && problem.status >= 500)
      deps.log.warn(
        { requestId: c.get("requestId"), error: { name: error.name, message: error.message } },
        problem.kind,
      );
    if (problem) return problemResponse(c, problem);
    // The client learns only the request id; the log gets the error's name and message, never a stack.
    deps.log.error(
      { requestId: c.get("requestId"), error: { name: error.name, message: error.message } },
      "unhandled error",
    );
    return problemResponse(
      c,
      new ProblemError(500, "internal-error", "the request failed; quote the request id to your administrator"),
    );
  });
  return app;
}
