/** Key status for the platform root: resolver, master key, per-tenant key versions. No key material. */
import { keyStatus } from "../../keys/status.js";
import type { AppDeps } from "../app.js";
import { ApiRouter, defineRoute } from "../route.js";

export function keyRoutes(deps: AppDeps): ApiRouter {
  const router = new ApiRouter(deps.identity.authenticator);
  defineRoute(
    router,
    { method: "get", path: "/api/keys/status", operationId: "keyStatus", summary: "The key resolver, the loaded master key's label, and every tenant's data-key versions (no key material)", tags: ["keys"], scopes: ["keys:manage"], responses: { 200: { description: "key status" } } },
    (c) => c.json(keyStatus(deps.keys, deps.db.keystore)),
  );
  return router;
}
