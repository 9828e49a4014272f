/** The caller's own sessions: list them, end one (e.g. a lost laptop). */
import { endOwnSession, ownSessions } from "../../auth/self-service.js";
import type { AppDeps } from "../deps.js";
import { accountDbOf, principalOf } from "../middleware/require-scope.js";
import { ApiRouter, defineRoute } from "../route.js";

export function sessionRoutes(deps: AppDeps): ApiRouter {
  const router = new ApiRouter(deps.identity.authenticator);
  const tags = ["sessions"];

  defineRoute(
    router,
    {
      method: "get",
      path: "/api/sessions",
      operationId: "listOwnSessions",
      reads: "content",
      summary: "The caller's sessions",
      tags,
      scopes: ["self"],
      responses: { 200: { description: "the sessions" } },
    },
    (c) => c.json({ sessions: ownSessions(accountDbOf(deps, c), principalOf(c)) }),
  );

  defineRoute(
    router,
    {
      method: "delete",
      path: "/api/sessions/:sessionId",
      operationId: "endOwnSession",
      summary: "End one of the caller's sessions",
      tags,
      scopes: ["self"],
      responses: { 204: { description: "the session is ended" } },
    },
    async (c, { params }) => {
      await endOwnSession(accountDbOf(deps, c), principalOf(c), params.sessionId);
      return c.body(null, 204);
    },
  );

  return router;
}
