/**
 * Key administration for the platform root: status (no key material), master-key rotation, and a
 * new data-key version for a tenant. Re-encryption of older rows runs in the background job.
 */
import { isAbsolute } from "node:path";
import { z } from "zod";
import { actorOf } from "../../auth/principal.js";
import type { AppDeps } from "../deps.js";
import { principalOf } from "../middleware/require-scope.js";
import { ApiRouter, defineRoute } from "../route.js";
import { lineSchema } from "./schemas.js";

const keyLabelSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, "letters, digits, _ . - (at most 64)");
const rotateMasterSchema = z.strictObject({
  newMasterKey: z.discriminatedUnion("kind", [
    z.strictObject({
      kind: z.literal("env"),
      file: lineSchema({ max: 4096 }).refine(isAbsolute, "must be an absolute path"),
    }),
    z.strictObject({ kind: z.literal("pkcs11"), keyLabel: keyLabelSchema }),
  ]),
});
const tags = ["keys"];

export function keyRoutes(deps: AppDeps): ApiRouter {
  const router = new ApiRouter(deps.identity.authenticator);
  defineRoute(
    router,
    {
      method: "get",
      path: "/api/keys/status",
      operationId: "keyStatus",
      reads: "sensitive",
      summary:
        "The master keys, every data-key version with its encryption count and the values sealed under it, and re-encryption progress (no key material)",
      tags,
      scopes: ["keys:manage"],
      responses: { 200: { description: "key status" } },
    },
    (c) => c.json(deps.keys.status()),
  );
  defineRoute(
    router,
    {
      method: "post",
      path: "/api/keys/rotate",
      operationId: "rotateMasterKey",
      summary:
        "Rotate the master key: load (or create) the new key, wrap every data key under it, make it current. The old key keeps unwrapping until retired",
      tags,
      scopes: ["keys:manage"],
      body: rotateMasterSchema,
      responses: { 200: { description: "rotated" } },
    },
    async (c, { body }) => c.json(await deps.keys.rotateMaster(body.newMasterKey, actorOf(principalOf(c)))),
  );
  defineRoute(
    router,
    {
      method: "post",
      path: "/api/tenants/:tenantId/keys/rotate",
      operationId: "rotateTenantKey",
      summary: "A new data-key version for the tenant: new writes use it at once, older rows move in the background",
      tags,
      scopes: ["keys:manage"],
      responses: { 200: { description: "rotated" } },
    },
    async (c, { params }) => c.json(await deps.keys.rotateTenantKey(params.tenantId, actorOf(principalOf(c)))),
  );
  return router;
}
