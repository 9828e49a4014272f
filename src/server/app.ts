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
import { toProblem } from "./error-mapping.js";
import { openApiRoutes } from "./openapi.js";
import { ProblemError, problemResponse } from "./problem.js";
import { ApiRegistry, attachRegistry, type ApiRouter } from "./route.js";
import { aiRoutes } from "./routes/ai.js";
import { approvalRoutes } from "./routes/approvals.js";
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
import { signingKeyRoutes } from "./routes/signing-keys.js";
import { setupRoutes } from "./routes/setup.js";
import { tenantRoutes } from "./routes/tenants.js";
import { tenantSettingsRoutes } from "./routes/tenant-settings.js";
import { tokenRoutes } from "./routes/tokens.js";
import { userRoutes } from "./routes/users.js";
import { autonomyRoutes } from "./routes/autonomy.js";
import { commentRoutes } from "./routes/comments.js";
import { draftRoutes } from "./routes/drafts.js";
import type { AppDeps, AppEnv } from "./deps.js";

/** Routes added by callers (tests, later issues) are mounted after the built-in ones. */
export type RouteMount = (app: Hono<AppEnv>) => void;

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
    signingKeyRoutes,
    projectRoutes,
    graphRoutes,
    approvalRoutes,
    aiRoutes,
    commentRoutes,
    draftRoutes,
    autonomyRoutes,
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
