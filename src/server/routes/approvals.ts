/** Signed approvals: the bytes to sign for a critical sign-off, and the signed sign-off itself (docs/signing.md). */
import type { Context } from "hono";
import { z } from "zod";
import { approvalRequest, approveNode } from "../../graph/approval.js";
import type { NodeView } from "../../graph/nodes.js";
import type { AppDeps, AppEnv } from "../deps.js";
import { principalOf, tenantDbOf } from "../middleware/require-scope.js";
import { ApiRouter, defineRoute } from "../route.js";

const approveSchema = z.strictObject({
  keyId: z.string().regex(/^[0-9a-f]{16}$/, "a key id: 16 lowercase hex digits"),
  signature: z.string().regex(/^[A-Za-z0-9+/]{86}==$/, "an Ed25519 signature: 64 bytes in base64"),
  digest: z.string().regex(/^[0-9a-f]{64}$/, "the approval's digest: 64 lowercase hex digits"),
});

function nodeResponse(c: Context<AppEnv>, node: NodeView): Response {
  c.header("ETag", `"${node.version}"`);
  return c.json({ node });
}

export function approvalRoutes(deps: AppDeps): ApiRouter {
  const router = new ApiRouter(deps.identity.authenticator);
  const tags = ["approvals"];

  defineRoute(
    router,
    {
      method: "get",
      path: "/api/nodes/:nodeId/approval",
      operationId: "getApproval",
      reads: "content",
      summary:
        "What signing off this security review or release means now: the canonical statement and its SHA-256 digest",
      tags,
      scopes: ["graph:read"],
      responses: {
        200: { description: "the statement (canonical JSON) and the digest (hex) to sign" },
        409: { description: "approved or released already" },
        422: { description: "not a security review or a release, archived, or nothing joined to it" },
      },
    },
    (c, { params }) => c.json({ approval: approvalRequest(tenantDbOf(deps, c), principalOf(c), params.nodeId) }),
  );

  defineRoute(
    router,
    {
      method: "post",
      path: "/api/nodes/:nodeId/approve",
      operationId: "approveNode",
      summary:
        "Approve a security review, or release a release, with an Ed25519 signature over the approval's digest (people only)",
      tags,
      // The sign-off right: an agent's credential never carries release:signoff (src/vocabulary/roles.ts).
      scopes: ["graph:write", "release:signoff"],
      body: approveSchema,
      responses: {
        200: { description: "the node, approved or released, at its new version" },
        403: {
          description:
            "separation-of-duties: the caller is an agent or authored what the review covers; or scope missing",
        },
        412: { description: "the digest signed is no longer current (the node or a subject changed)" },
        422: { description: "the key is not the caller's, revoked or unknown, or the signature does not verify" },
      },
    },
    async (c, { params, body }) =>
      nodeResponse(c, await approveNode(deps.graph, tenantDbOf(deps, c), principalOf(c), params.nodeId, body)),
  );

  return router;
}
