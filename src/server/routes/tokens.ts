/** The caller's personal access tokens: the token itself is in the creation response only. */
import { createOwnToken, ownTokens, revokeOwnToken } from "../../auth/self-service.js";
import type { AppDeps } from "../deps.js";
import { accountDbOf, principalOf } from "../middleware/require-scope.js";
import { ApiRouter, defineRoute } from "../route.js";
import { tokenRequestSchema } from "./schemas.js";

export function tokenRoutes(deps: AppDeps): ApiRouter {
  const router = new ApiRouter(deps.identity.authenticator);
  const tags = ["tokens"];

  defineRoute(
    router,
    {
      method: "get",
      path: "/api/tokens",
      operationId: "listOwnTokens",
      reads: "content",
      summary: "The caller's personal access tokens (never the secret)",
      tags,
      scopes: ["self"],
      responses: { 200: { description: "the tokens" } },
    },
    (c) => c.json({ tokens: ownTokens(accountDbOf(deps, c), principalOf(c)) }),
  );

  defineRoute(
    router,
    {
      method: "post",
      path: "/api/tokens",
      operationId: "createOwnToken",
      summary: "Create a personal access token (vct_…); the secret is in this response only",
      tags,
      scopes: ["self"],
      body: tokenRequestSchema,
      responses: {
        201: { description: "the token and its description" },
        403: { description: "the credential lacks scope self, or is itself an access token" },
        422: { description: "the body does not match the schema, or asks for scopes the caller does not hold" },
      },
    },
    async (c, { body }) => {
      const created = await createOwnToken(accountDbOf(deps, c), principalOf(c), {
        ...body,
        scopes: [...new Set(body.scopes)],
      });
      return c.json({ token: created.token, ...created.info }, 201);
    },
  );

  defineRoute(
    router,
    {
      method: "delete",
      path: "/api/tokens/:tokenId",
      operationId: "revokeOwnToken",
      summary: "Revoke one of the caller's personal access tokens",
      tags,
      scopes: ["self"],
      responses: { 204: { description: "the token is revoked" } },
    },
    async (c, { params }) => {
      await revokeOwnToken(accountDbOf(deps, c), principalOf(c), params.tokenId);
      return c.body(null, 204);
    },
  );

  return router;
}
