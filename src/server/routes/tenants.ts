/**
 * Tenants, managed by the platform root: create (with the first tenant admin), list, read, suspend.
 * Never their content. Names are sealed with each tenant's key and opened here for the operator (src/auth/tenant-names.ts).
 */
import { z } from "zod";
import type { AppDeps } from "../deps.js";
import { principalOf } from "../middleware/require-scope.js";
import { ApiRouter, defineRoute } from "../route.js";
import { accountSchema, emailSchema, nameSchema, nothingToChange, pageSchema, slugSchema } from "./schemas.js";

const createSchema = z.strictObject({ slug: slugSchema, name: nameSchema, admin: accountSchema });
const adminSchema = z.strictObject({ email: emailSchema, name: nameSchema });
const updateSchema = nothingToChange(
  z.strictObject({
    name: nameSchema.optional(),
    status: z.enum(["active", "suspended"]).optional(),
    accessTokenTtlSeconds: z.number().int().min(300).max(86_400).optional(),
  }),
);

export function tenantRoutes(deps: AppDeps): ApiRouter {
  const router = new ApiRouter(deps.identity.authenticator);
  const accounts = deps.identity.accounts;
  const common = { tags: ["tenants"], scopes: ["platform:admin"] } as const;

  defineRoute(
    router,
    {
      ...common,
      method: "get",
      path: "/api/tenants",
      operationId: "listTenants",
      reads: "content",
      summary: "List tenants",
      query: pageSchema,
      responses: { 200: { description: "a page of tenants" } },
    },
    async (c, { query }) => c.json({ tenants: await accounts.listTenants(query.after, query.limit) }),
  );

  defineRoute(
    router,
    {
      ...common,
      method: "post",
      path: "/api/tenants",
      operationId: "createTenant",
      summary: "Create a tenant with its first tenant admin",
      body: createSchema,
      responses: {
        201: { description: "the tenant and its admin" },
        402: {
          description:
            "a license limit (tenants, or users for the admin) is reached (license-limit), or the license expired (license-read-only); nothing was created",
        },
        409: { description: "the slug is taken" },
        422: { description: "the body does not match the schema, or the password is too weak" },
      },
    },
    async (c, { body }) => c.json(await accounts.createTenant(principalOf(c), body), 201),
  );

  defineRoute(
    router,
    {
      ...common,
      method: "get",
      path: "/api/tenants/:tenantId",
      operationId: "getTenant",
      reads: "content",
      summary: "One tenant",
      responses: { 200: { description: "the tenant" } },
    },
    async (c, { params }) => c.json({ tenant: await accounts.getTenant(params.tenantId) }),
  );

  defineRoute(
    router,
    {
      ...common,
      method: "patch",
      path: "/api/tenants/:tenantId",
      operationId: "updateTenant",
      summary: "Rename, suspend or reactivate a tenant, or set its access-token lifetime",
      body: updateSchema,
      responses: { 200: { description: "the updated tenant" } },
    },
    async (c, { params, body }) =>
      c.json({ tenant: await accounts.updateTenant(principalOf(c), params.tenantId, body) }),
  );

  defineRoute(
    router,
    {
      ...common,
      method: "post",
      path: "/api/tenants/:tenantId/admins",
      operationId: "assignTenantAdmin",
      summary:
        "Give a tenant an admin (e.g. after it lost its only one): the person with this email becomes an active tenant admin, or is created; returns a one-time reset token (vrt_…) for them to set their password",
      description:
        "The token is in this response only, valid for 30 minutes and once; the person redeems it at POST /api/auth/password-reset. `name` is used only for a new account. Audited as tenant.admin_assigned in the tenant's log; the tenant's other active admins are notified.",
      body: adminSchema,
      responses: {
        201: { description: "`userId`, `created` (false: an existing person was made admin), `token`, `expiresAt`" },
        402: {
          description:
            "a new account, or a disabled one enabled again, needs a free seat: the license's users limit is reached (license-limit), or the license expired (license-read-only); nothing was changed. Making an existing active person admin works whatever the license",
        },
        404: { description: "no such tenant" },
        409: { description: "the tenant is suspended" },
        422: { description: "the body does not match the schema, or the email belongs to an agent" },
      },
    },
    async (c, { params, body }) => c.json(await accounts.assignTenantAdmin(principalOf(c), params.tenantId, body), 201),
  );

  return router;
}
