/** A project's autonomy settings for agents (docs/agents.md): tenant admins, people, tenant-wide credentials only. */
import { z } from "zod";
import { getAutonomySettings, MAX_AUTONOMY_RULES, putAutonomySettings } from "../../auth/autonomy-settings.js";
import { AUTONOMY_LEVELS, TASK_TYPES } from "../../vocabulary/autonomy.js";
import type { AppDeps } from "../deps.js";
import { principalOf, tenantDbOf } from "../middleware/require-scope.js";
import { ApiRouter, defineRoute } from "../route.js";
import { idSchema } from "./schemas.js";

const ruleSchema = z.strictObject({
  agentId: idSchema.nullable(),
  taskType: z.enum(TASK_TYPES).nullable(),
  level: z.enum(AUTONOMY_LEVELS),
});
const putSchema = z.strictObject({ rules: z.array(ruleSchema).max(MAX_AUTONOMY_RULES) });

export function autonomyRoutes(deps: AppDeps): ApiRouter {
  const router = new ApiRouter(deps.identity.authenticator);
  const tags = ["autonomy"];

  defineRoute(
    router,
    {
      method: "get",
      path: "/api/projects/:projectId/autonomy",
      operationId: "getAutonomy",
      reads: "content",
      summary: "The project's autonomy rules for agents (the most specific rule wins; none: Observe)",
      tags,
      scopes: ["tenant:admin"],
      responses: { 200: { description: "the rules and the built-in default" } },
    },
    (c, { params }) => c.json({ autonomy: getAutonomySettings(tenantDbOf(deps, c), principalOf(c), params.projectId) }),
  );

  defineRoute(
    router,
    {
      method: "put",
      path: "/api/projects/:projectId/autonomy",
      operationId: "putAutonomy",
      summary: "Replace the project's autonomy rules (a person who is tenant admin, with a tenant-wide credential)",
      tags,
      scopes: ["tenant:admin"],
      body: putSchema,
      responses: {
        200: { description: "the rules as stored" },
        403: { description: "lacks tenant:admin, is an agent, or uses a project-restricted token" },
        422: {
          description: "a rule names a person or an unknown agent, or two rules have the same agent and task type",
        },
      },
    },
    async (c, { params, body }) =>
      c.json({
        autonomy: await putAutonomySettings(tenantDbOf(deps, c), principalOf(c), params.projectId, body.rules),
      }),
  );

  return router;
}
