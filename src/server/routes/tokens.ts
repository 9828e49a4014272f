/** The caller's personal access tokens: the token itself is in the creation response only. */
import { Hono } from "hono";
import { createOwnToken, ownTokens, revokeOwnToken } from "../../auth/self-service.js";
import type { AppDeps, AppEnv } from "../app.js";
import { jsonBody } from "../json-body.js";
import { principalOf, requireScope } from "../middleware/require-scope.js";
import { idParam } from "./params.js";
import { tokenRequestSchema } from "./schemas.js";


export function tokenRoutes(deps: AppDeps): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  const self = requireScope(deps.identity.authenticator, "self");

  routes.get("/api/tokens", self, (c) => c.json({ tokens: ownTokens(deps.db, principalOf(c)) }));

  routes.post("/api/tokens", self, async (c) => {
    const input = await jsonBody(c, tokenRequestSchema);
    const created = await createOwnToken(deps.db, deps.identity.events, principalOf(c), { ...input, scopes: [...new Set(input.scopes)] });
    return c.json({ token: created.token, ...created.info }, 201);
  });

  routes.delete("/api/tokens/:tokenId", self, async (c) => {
    await revokeOwnToken(deps.db, deps.identity.events, principalOf(c), idParam(c, "tokenId"));
    return c.body(null, 204);
  });

  return routes;
}
