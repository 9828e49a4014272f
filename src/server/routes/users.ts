/** The users of the caller's tenant, managed by its tenant admins. Another tenant's user is simply not found. */
import { z } from "zod";
import { agentTokens, issueAgentToken, revokeAgentToken } from "../../auth/agent-tokens.js";
import type { AppDeps } from "../deps.js";
import { principalOf, tenantDbOf } from "../middleware/require-scope.js";
import { ApiRouter, defineRoute } from "../route.js";
import {
  emailSchema,
  nameSchema,
  nothingToChange,
  pageSchema,
  passwordSchema,
  tenantRoleSchema,
  tokenRequestSchema,
} from "./schemas.js";

const createSchema = z.strictObject({
  email: emailSchema,
  name: nameSchema,
  kind: z.enum(["human", "agent"]).default("human"),
  role: tenantRoleSchema,
  auditor: z.boolean().default(false),
  password: passwordSchema.optional(),
});
const updateSchema = nothingToChange(
  z.strictObject({
    name: nameSchema.optional(),
    role: tenantRoleSchema.optional(),
    auditor: z.boolean().optional(),
    status: z.enum(["active", "disabled"]).optional(),
  }),
);

const common = { tags: ["users"], scopes: ["users:manage"] } as const;

function accountRoutes(router: ApiRouter, deps: AppDeps): void {
  const accounts = deps.identity.accounts;

  defineRoute(
    router,
    {
      ...common,
      method: "get",
      path: "/api/users",
      operationId: "listUsers",
      reads: "content",
      summary: "List the tenant's users",
      query: pageSchema,
      responses: { 200: { description: "a page of users" } },
    },
    async (c, { query }) => c.json({ users: await accounts.listUsers(tenantDbOf(deps, c), query.after, query.limit) }),
  );

  defineRoute(
    router,
    {
      ...common,
      method: "post",
      path: "/api/users",
      operationId: "createUser",
      summary: "Create a user (a human with a password, or an agent without)",
      body: createSchema,
      responses: {
        201: { description: "the user" },
        402: {
          description:
            "the license's users (people) or agents limit is reached (license-limit), or the license expired (license-read-only); nothing was created",
        },
        409: { description: "a user with this email exists" },
        422: { description: "the body does not match the schema, or the password is missing, unwanted or too weak" },
      },
    },
    async (c, { body }) => c.json({ user: await accounts.createUser(tenantDbOf(deps, c), principalOf(c), body) }, 201),
  );

  defineRoute(
    router,
    {
      ...common,
      method: "get",
      path: "/api/users/:userId",
      operationId: "getUser",
      reads: "content",
      summary: "One user",
      responses: { 200: { description: "the user" } },
    },
    async (c, { params }) => c.json({ user: await accounts.userById(tenantDbOf(deps, c), params.userId) }),
  );

  defineRoute(
    router,
    {
      ...common,
      method: "patch",
      path: "/api/users/:userId",
      operationId: "updateUser",
      summary: "Rename a user, change its role or auditor capability, disable or re-enable it",
      body: updateSchema,
      responses: {
        200: { description: "the updated user" },
        402: {
          description:
            "enabling a disabled account needs a free seat: the license's users or agents limit is reached (license-limit)",
        },
        403: { description: "lacks scope users:manage, or changes the caller's own account" },
        409: { description: "the tenant would have no active admin" },
      },
    },
    async (c, { params, body }) =>
      c.json({ user: await accounts.updateUser(tenantDbOf(deps, c), principalOf(c), params.userId, body) }),
  );

  defineRoute(
    router,
    {
      ...common,
      method: "post",
      path: "/api/users/:userId/password-reset",
      operationId: "issuePasswordReset",
      summary: "Issue a one-time password reset token (vrt_…) for a person; the token is in this response only",
      description:
        "Valid for 30 minutes and once; a newer one replaces it. Hand it to the person out of band; they redeem it at POST /api/auth/password-reset.",
      responses: {
        201: { description: "`userId`, `token`, `expiresAt`" },
        403: { description: "lacks scope users:manage, or names the caller (change your own password instead)" },
        422: { description: "the user is an agent or disabled" },
      },
    },
    async (c, { params }) =>
      c.json(
        await deps.identity.passwordFlows.issuePasswordReset(tenantDbOf(deps, c), principalOf(c), params.userId),
        201,
      ),
  );

  defineRoute(
    router,
    {
      ...common,
      method: "delete",
      path: "/api/users/:userId",
      operationId: "deleteUser",
      summary: "Delete a user",
      responses: {
        204: { description: "the user is deleted" },
        409: { description: "the tenant would have no active admin" },
      },
    },
    async (c, { params }) => {
      await accounts.deleteUser(tenantDbOf(deps, c), principalOf(c), params.userId);
      return c.body(null, 204);
    },
  );
}

function agentTokenRoutes(router: ApiRouter, deps: AppDeps): void {
  defineRoute(
    router,
    {
      ...common,
      method: "get",
      path: "/api/users/:userId/tokens",
      operationId: "listAgentTokens",
      reads: "content",
      summary: "An agent's access tokens (never the secret)",
      responses: { 200: { description: "the tokens" } },
    },
    (c, { params }) => c.json({ tokens: agentTokens(tenantDbOf(deps, c), params.userId) }),
  );

  defineRoute(
    router,
    {
      ...common,
      method: "post",
      path: "/api/users/:userId/tokens",
      operationId: "issueAgentToken",
      summary: "Issue an access token (vct_…) to an agent; the secret is in this response only",
      body: tokenRequestSchema,
      responses: {
        201: { description: "the token and its description" },
        422: {
          description:
            "the body does not match the schema, or the user is not an active agent, or the scopes or project are not allowed",
        },
      },
    },
    async (c, { params, body }) => {
      const created = await issueAgentToken(tenantDbOf(deps, c), principalOf(c), params.userId, {
        ...body,
        scopes: [...new Set(body.scopes)],
      });
      return c.json({ token: created.token, ...created.info }, 201);
    },
  );

  defineRoute(
    router,
    {
      ...common,
      method: "delete",
      path: "/api/users/:userId/tokens/:tokenId",
      operationId: "revokeAgentToken",
      summary: "Revoke an agent's access token",
      responses: { 204: { description: "the token is revoked" } },
    },
    async (c, { params }) => {
      await revokeAgentToken(tenantDbOf(deps, c), principalOf(c), params.userId, params.tokenId);
      return c.body(null, 204);
    },
  );
}

export function userRoutes(deps: AppDeps): ApiRouter {
  const router = new ApiRouter(deps.identity.authenticator);
  accountRoutes(router, deps);
  agentTokenRoutes(router, deps);
  return router;
}
