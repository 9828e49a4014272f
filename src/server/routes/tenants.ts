/** Tenants, managed by the platform root: create (with the first tenant admin), list, read, suspend. Never their content. */
import { Hono } from "hono";
import { z } from "zod";
import { createTenant, listTenants, tenantById, updateTenant } from "../../auth/accounts.js";
import type { AppDeps, AppEnv } from "../app.js";
import { jsonBody } from "../json-body.js";
import { principalOf, requireScope } from "../middleware/require-scope.js";
import { idParam, queryOf } from "./params.js";
import { accountSchema, nameSchema, pageSchema, slugSchema } from "./schemas.js";

const createSchema = z.strictObject({ slug: slugSchema, name: nameSchema, admin: accountSchema });
const updateSchema = z
  .strictObject({
    name: nameSchema.optional(),
    status: z.enum(["active", "suspended"]).optional(),
    accessTokenTtlSeconds: z.number().int().min(300).max(86_400).optional(),
  })
  .refine((u) => Object.keys(u).length > 0, "nothing to change");

export function tenantRoutes(deps: AppDeps): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  const admin = requireScope(deps.identity.authenticator, "platform:admin");
  const accounts = deps.identity.accounts;

  routes.get("/api/tenants", admin, (c) => {
    const page = queryOf(c, pageSchema);
    return c.json({ tenants: listTenants(accounts, page.after, page.limit) });
  });

  routes.post("/api/tenants", admin, async (c) => {
    const input = await jsonBody(c, createSchema);
    return c.json(await createTenant(accounts, principalOf(c), input), 201);
  });

  routes.get("/api/tenants/:tenantId", admin, (c) => c.json({ tenant: tenantById(accounts, idParam(c, "tenantId")) }));

  routes.patch("/api/tenants/:tenantId", admin, async (c) => {
    const tenantId = idParam(c, "tenantId");
    const input = await jsonBody(c, updateSchema);
    return c.json({ tenant: await updateTenant(accounts, principalOf(c), tenantId, input) });
  });

  return routes;
}
