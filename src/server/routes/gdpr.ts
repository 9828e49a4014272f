/** GDPR: a tenant's complete export (its own admin), erasure of content and of a person (tenant admin), a tenant's erasure (platform root). */
import { z } from "zod";
import { eraseNode, eraseProject, REASON_MAX_CHARS } from "../../graph/erasure.js";
import { exportTenant } from "../../graph/export.js";
import type { AppDeps } from "../deps.js";
import { principalOf, tenantDbOf } from "../middleware/require-scope.js";
import { ApiRouter, defineRoute } from "../route.js";
import { streamedBody } from "../streamed.js";
import { multilineSchema, slugSchema } from "./schemas.js";

const exportQuery = z.strictObject({ format: z.enum(["json", "markdown"]).default("json") });
const eraseTenantSchema = z.strictObject({ confirm: slugSchema });
/** The documented request behind a content erasure (a ticket or letter reference); kept in the audit trail for good. */
const eraseContentSchema = z.strictObject({ reason: multilineSchema({ max: REASON_MAX_CHARS, trim: true }) });
const contentErasure = {
  200: { description: "erased; the counts of what went with it" },
  409: { description: "not archived yet: archive it first" },
};
const tags = ["gdpr"];

export function gdprRoutes(deps: AppDeps): ApiRouter {
  const router = new ApiRouter(deps.identity.authenticator);

  defineRoute(
    router,
    {
      method: "get",
      path: "/api/tenants/:tenantId/export",
      operationId: "exportTenant",
      reads: "sensitive",
      summary: "The tenant's complete graph, decrypted: JSON, or a tar of Markdown files (decisions in ADR form)",
      tags,
      scopes: ["tenant:admin"],
      query: exportQuery,
      responses: {
        200: {
          description:
            "a streamed JSON document or tar archive; sent chunked, and cut off (no terminating chunk) if it fails midway: treat a connection error as a failed export",
        },
        503: { description: "the tenant's keys cannot be unwrapped (keys-unavailable); checked before the first byte" },
      },
    },
    async (c, { params, query }) => {
      const exported = await exportTenant(
        deps.graph,
        tenantDbOf(deps, c),
        principalOf(c),
        params.tenantId,
        query.format,
      );
      c.header("Content-Type", exported.contentType);
      c.header("Content-Disposition", `attachment; filename="${exported.filename}"`);
      return streamedBody(c, exported.body, deps, "tenant export");
    },
  );

  defineRoute(
    router,
    {
      method: "post",
      path: "/api/users/:userId/erase",
      operationId: "eraseUser",
      summary: "Erase a person: pseudonymise their email and name, end their access; the id stays for provenance",
      tags,
      scopes: ["users:manage"],
      responses: { 204: { description: "erased" } },
    },
    async (c, { params }) => {
      await deps.identity.accounts.eraseUser(tenantDbOf(deps, c), principalOf(c), params.userId);
      return c.body(null, 204);
    },
  );

  defineRoute(
    router,
    {
      method: "post",
      path: "/api/nodes/:nodeId/erase",
      operationId: "eraseNode",
      summary:
        "Hard-delete an archived node on documented request: content, search terms and edges; an audit tombstone stays",
      tags,
      scopes: ["tenant:admin"],
      body: eraseContentSchema,
      responses: contentErasure,
    },
    async (c, { params, body }) =>
      c.json(await eraseNode(deps.graph, tenantDbOf(deps, c), principalOf(c), params.nodeId, body.reason)),
  );

  defineRoute(
    router,
    {
      method: "post",
      path: "/api/projects/:projectId/erase",
      operationId: "eraseProject",
      summary:
        "Hard-delete an archived project on documented request: its nodes, edges and memberships; an audit tombstone stays",
      tags,
      scopes: ["tenant:admin"],
      body: eraseContentSchema,
      responses: contentErasure,
    },
    async (c, { params, body }) =>
      c.json(await eraseProject(deps.graph, tenantDbOf(deps, c), principalOf(c), params.projectId, body.reason)),
  );

  defineRoute(
    router,
    {
      method: "post",
      path: "/api/tenants/:tenantId/erase",
      operationId: "eraseTenant",
      summary: "Erase a tenant: destroy its keys (crypto-shredding), then delete its data. Irreversible",
      tags,
      scopes: ["platform:admin"],
      body: eraseTenantSchema,
      responses: { 200: { description: "erased" } },
    },
    async (c, { params, body }) =>
      c.json(await deps.identity.accounts.eraseTenant(principalOf(c), params.tenantId, body.confirm)),
  );

  return router;
}
