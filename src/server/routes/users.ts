/** The users of the caller's tenant, managed by its tenant admins. Another tenant's user is simply not found. */
import { Hono } from "hono";
import { z } from "zod";
import { createUser, deleteUser, listUsers, updateUser, userById } from "../../auth/accounts.js";
import { agentTokens, issueAgentToken, revokeAgentToken } from "../../auth/agent-tokens.js";
import type { AppDeps, AppEnv } from "../app.js";
import { jsonBody } from "../json-body.js";
import { principalOf, requireScope, tenantDbOf } from "../middleware/require-scope.js";
import { idParam, queryOf } from "./params.js";
import { emailSchema, nameSchema, pageSchema, passwordSchema, tenantRoleSchema, tokenRequestSchema } from "./schemas.js";

const createSchema = z.strictObject({
  email: emailSchema,
  name: nameSchema,
  kind: z.enum(["human", "agent"]).default("human"),
  role: tenantRoleSchema,
  auditor: z.boolean().default(false),
  password: passwordSchema.optional(),
});
const updateSchema = z
  .strictObject({ name: nameSchema.optional(), role: tenantRoleSchema.optional(), auditor: z.boolean().optional(), status: z.enum(["active", "disabled"]).optional() })
  .refine((u) => Object.keys(u).length > 0, "nothing to change");

export function userRoutes(deps: AppDeps): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  const manage = requireScope(deps.identity.authenticator, "users:manage");
  const accounts = deps.identity.accounts;

  routes.get("/api/users", manage, async (c) => {
    const page = queryOf(c, pageSchema);
    return c.json({ users: await listUsers(accounts, tenantDbOf(deps, c), page.after, page.limit) });
  });

  routes.post("/api/users", manage, async (c) => {
    const input = await jsonBody(c, createSchema);
    return c.json({ user: await createUser(accounts, tenantDbOf(deps, c), principalOf(c), input) }, 201);
  });

  routes.get("/api/users/:userId", manage, async (c) => c.json({ user: await userById(accounts, tenantDbOf(deps, c), idParam(c, "userId")) }));

  routes.patch("/api/users/:userId", manage, async (c) => {
    const userId = idParam(c, "userId");
    const input = await jsonBody(c, updateSchema);
    return c.json({ user: await updateUser(accounts, tenantDbOf(deps, c), principalOf(c), userId, input) });
  });

  routes.delete("/api/users/:userId", manage, async (c) => {
    await deleteUser(accounts, tenantDbOf(deps, c), principalOf(c), idParam(c, "userId"));
    return c.body(null, 204);
  });

  routes.get("/api/users/:userId/tokens", manage, (c) => c.json({ tokens: agentTokens(tenantDbOf(deps, c), idParam(c, "userId")) }));

  routes.post("/api/users/:userId/tokens", manage, async (c) => {
    const agentId = idParam(c, "userId");
    const input = await jsonBody(c, tokenRequestSchema);
    const created = await issueAgentToken(deps.db, deps.identity.events, tenantDbOf(deps, c), principalOf(c), agentId, { ...input, scopes: [...new Set(input.scopes)] });
    return c.json({ token: created.token, ...created.info }, 201);
  });

  routes.delete("/api/users/:userId/tokens/:tokenId", manage, async (c) => {
    await revokeAgentToken(deps.identity.events, tenantDbOf(deps, c), principalOf(c), idParam(c, "userId"), idParam(c, "tokenId"));
    return c.body(null, 204);
  });

  return routes;
}
