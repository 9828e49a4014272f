/** The caller's own sessions: list them, end one (e.g. a lost laptop). */
import { Hono } from "hono";
import { endOwnSession, ownSessions } from "../../auth/self-service.js";
import type { AppDeps, AppEnv } from "../app.js";
import { principalOf, requireScope } from "../middleware/require-scope.js";
import { idParam } from "./params.js";

export function sessionRoutes(deps: AppDeps): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  const self = requireScope(deps.identity.authenticator, "self");

  routes.get("/api/sessions", self, (c) => c.json({ sessions: ownSessions(deps.db, principalOf(c)) }));

  routes.delete("/api/sessions/:sessionId", self, async (c) => {
    await endOwnSession(deps.db, deps.identity.events, principalOf(c), idParam(c, "sessionId"));
    return c.body(null, 204);
  });

  return routes;
}
