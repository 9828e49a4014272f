/** The caller's own notifications. */
import { z } from "zod";
import { markRead, ownNotifications } from "../../notify/notifications.js";
import type { AppDeps } from "../deps.js";
import { accountDbOf, principalOf } from "../middleware/require-scope.js";
import { ApiRouter, defineRoute } from "../route.js";

const listQuery = z.strictObject({
  unread: z.enum(["true", "false"]).default("false"),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});
const tags = ["notifications"];

export function notificationRoutes(deps: AppDeps): ApiRouter {
  const router = new ApiRouter(deps.identity.authenticator);

  defineRoute(
    router,
    {
      method: "get",
      path: "/api/notifications",
      operationId: "listNotifications",
      reads: "content",
      summary: "The caller's notifications, newest first; each names the audit event behind it",
      tags,
      scopes: ["self"],
      query: listQuery,
      responses: { 200: { description: "notifications" } },
    },
    (c, { query }) =>
      c.json({
        notifications: ownNotifications(accountDbOf(deps, c), principalOf(c), query.unread === "true", query.limit),
      }),
  );

  defineRoute(
    router,
    {
      method: "post",
      path: "/api/notifications/:notificationId/read",
      operationId: "markNotificationRead",
      summary: "Mark one of the caller's notifications read",
      tags,
      scopes: ["self"],
      responses: { 204: { description: "marked read" } },
    },
    async (c, { params }) => {
      await markRead(accountDbOf(deps, c), principalOf(c), params.notificationId);
      return c.body(null, 204);
    },
  );

  return router;
}
