/**
 * What people do with agents' work (docs/agents.md): approve or discard a draft, and see what an
 * agent's edit replaced, to undo it.
 */
import type { Context } from "hono";
import { approveDraftEdge, approveDraftNode, discardDraftEdge, discardDraftNode } from "../../graph/drafts.js";
import type { NodeView } from "../../graph/nodes.js";
import { listRevisions } from "../../graph/revisions.js";
import type { AppDeps, AppEnv } from "../deps.js";
import { principalOf, tenantDbOf } from "../middleware/require-scope.js";
import { ApiRouter, defineRoute } from "../route.js";

const write = ["graph:write"] as const;
const refusals = {
  403: { description: "may not write in this project, or is an agent: only a person approves or discards" },
  409: { description: "it is not a draft (any more)" },
};

function nodeResponse(c: Context<AppEnv>, node: NodeView): Response {
  c.header("ETag", `"${node.version}"`);
  return c.json({ node });
}

export function draftRoutes(deps: AppDeps): ApiRouter {
  const router = new ApiRouter(deps.identity.authenticator);

  defineRoute(
    router,
    {
      method: "post",
      path: "/api/nodes/:nodeId/draft/approve",
      operationId: "approveDraftNode",
      summary: "Approve a draft node: it takes effect (people only)",
      tags: ["nodes"],
      scopes: write,
      responses: { 200: { description: "the node, no longer a draft" }, ...refusals },
    },
    async (c, { params }) =>
      nodeResponse(c, await approveDraftNode(deps.graph, tenantDbOf(deps, c), principalOf(c), params.nodeId)),
  );

  defineRoute(
    router,
    {
      method: "post",
      path: "/api/nodes/:nodeId/draft/discard",
      operationId: "discardDraftNode",
      summary: "Discard a draft node: it is archived, still a draft (people only)",
      tags: ["nodes"],
      scopes: write,
      responses: { 200: { description: "the archived draft" }, ...refusals },
    },
    async (c, { params }) =>
      nodeResponse(c, await discardDraftNode(deps.graph, tenantDbOf(deps, c), principalOf(c), params.nodeId)),
  );

  defineRoute(
    router,
    {
      method: "post",
      path: "/api/edges/:edgeId/draft/approve",
      operationId: "approveDraftEdge",
      summary: "Approve a draft edge: it takes effect; the nodes it joins must be in effect (people only)",
      tags: ["edges"],
      scopes: write,
      responses: { 200: { description: "the edge, no longer a draft" }, ...refusals },
    },
    async (c, { params }) =>
      c.json({ edge: await approveDraftEdge(tenantDbOf(deps, c), principalOf(c), params.edgeId) }),
  );

  defineRoute(
    router,
    {
      method: "post",
      path: "/api/edges/:edgeId/draft/discard",
      operationId: "discardDraftEdge",
      summary: "Discard a draft edge: it is removed (people only)",
      tags: ["edges"],
      scopes: write,
      responses: { 204: { description: "the draft edge is gone" }, ...refusals },
    },
    async (c, { params }) => {
      await discardDraftEdge(tenantDbOf(deps, c), principalOf(c), params.edgeId);
      return c.body(null, 204);
    },
  );

  defineRoute(
    router,
    {
      method: "get",
      path: "/api/nodes/:nodeId/revisions",
      operationId: "listNodeRevisions",
      reads: "content",
      summary: "What the node held before each change an agent made, newest first (to undo one, edit the node back)",
      tags: ["nodes"],
      scopes: ["graph:read"],
      responses: { 200: { description: "the revisions" } },
    },
    async (c, { params }) =>
      c.json({ revisions: await listRevisions(deps.graph, tenantDbOf(deps, c), principalOf(c), params.nodeId) }),
  );

  return router;
}
