/** A tenant admin's own tenant settings (src/auth/tenant-settings.ts); the platform root's tenant management is routes/tenants.ts. */
import { z } from "zod";
import { READ_AUDIT_LEVELS } from "../../audit/read-audit.js";
import type { AppDeps } from "../deps.js";
import { principalOf } from "../middleware/require-scope.js";
import { ApiRouter, defineRoute } from "../route.js";
import { nothingToChange } from "./schemas.js";

const settingsSchema = z.strictObject({
  readAudit: z.enum(READ_AUDIT_LEVELS).meta({
    description:
      'which reads leave an audit event: "off", "sensitive" (exports, audit-log reads, secret metadata, key views; the default) or "all" (every read of the tenant\'s data too); see docs/audit.md',
  }),
});
const updateSchema = nothingToChange(settingsSchema.partial());

export function tenantSettingsRoutes(deps: AppDeps): ApiRouter {
  const router = new ApiRouter(deps.identity.authenticator);
  const common = { path: "/api/tenant/settings", tags: ["tenants"], scopes: ["tenant:admin"] } as const;
  const responses = { 200: { description: "the tenant's settings", schema: settingsSchema } };
  defineRoute(
    router,
    {
      ...common,
      method: "get",
      operationId: "getTenantSettings",
      summary: "The caller's tenant's settings",
      reads: "content",
      responses,
    },
    (c) => c.json(deps.identity.accounts.tenantSettings(principalOf(c))),
  );
  defineRoute(
    router,
    {
      ...common,
      method: "put",
      operationId: "updateTenantSettings",
      summary: "Change the caller's tenant's settings (audited as tenant.updated)",
      body: updateSchema,
      responses,
    },
    async (c, { body }) => c.json(await deps.identity.accounts.updateTenantSettings(principalOf(c), body)),
  );
  return router;
}
