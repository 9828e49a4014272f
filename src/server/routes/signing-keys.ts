/** The caller's Ed25519 public keys for signed approvals (docs/signing.md). */
import { z } from "zod";
import { ownSigningKeys, registerSigningKey, revokeSigningKey } from "../../auth/signing-keys.js";
import type { AppDeps } from "../deps.js";
import { accountDbOf, principalOf } from "../middleware/require-scope.js";
import { ApiRouter, defineRoute } from "../route.js";
import { lineSchema } from "./schemas.js";

const registerSchema = z.strictObject({
  name: lineSchema({ max: 100, trim: true }),
  /** An SPKI PEM ("-----BEGIN PUBLIC KEY-----", line breaks included) or the raw 32 bytes in base64. */
  publicKey: z.string().min(1).max(1000),
});
const keyIdSchema = z.string().regex(/^[0-9a-f]{16}$/);

export function signingKeyRoutes(deps: AppDeps): ApiRouter {
  const router = new ApiRouter(deps.identity.authenticator);
  const tags = ["signing keys"];

  defineRoute(
    router,
    {
      method: "get",
      path: "/api/me/signing-keys",
      operationId: "listOwnSigningKeys",
      reads: "content",
      summary: "The caller's signing keys (Ed25519 public keys), revoked ones included",
      tags,
      scopes: ["self"],
      responses: { 200: { description: "the keys" } },
    },
    (c) => c.json({ keys: ownSigningKeys(accountDbOf(deps, c), principalOf(c)) }),
  );

  defineRoute(
    router,
    {
      method: "post",
      path: "/api/me/signing-keys",
      operationId: "registerSigningKey",
      summary: "Register an Ed25519 public key for signed approvals; people only, from a signed-in session",
      tags,
      scopes: ["self"],
      body: registerSchema,
      responses: {
        201: { description: "the key, with its key id" },
        403: { description: "the caller is an agent, or used an access token rather than a session" },
        409: { description: "this public key is registered already (revoked or not)" },
        422: { description: "not an Ed25519 public key, or one of small order" },
      },
    },
    async (c, { body }) => c.json({ key: await registerSigningKey(accountDbOf(deps, c), principalOf(c), body) }, 201),
  );

  defineRoute(
    router,
    {
      method: "delete",
      path: "/api/me/signing-keys/:keyId",
      operationId: "revokeSigningKey",
      summary: "Revoke one of the caller's signing keys: from then on it verifies no approval",
      tags,
      scopes: ["self"],
      pathParams: { keyId: keyIdSchema },
      responses: { 204: { description: "the key is revoked" } },
    },
    async (c, { params }) => {
      await revokeSigningKey(accountDbOf(deps, c), principalOf(c), params.keyId);
      return c.body(null, 204);
    },
  );

  return router;
}
