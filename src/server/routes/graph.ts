/** Nodes, edges and the chain-of-custody trace. Access follows project membership (src/graph/projects.ts). */
import type { Context } from "hono";
import { z } from "zod";
import { createEdge, deleteEdge, getEdge, listEdges } from "../../graph/edges.js";
import {
  archiveNode,
  createNode,
  getNode,
  listNodes,
  restoreNode,
  updateNode,
  type NodeView,
} from "../../graph/nodes.js";
import { DEFAULT_TRACE_DEPTH, MAX_TRACE_DEPTH, traceUpstream } from "../../graph/trace.js";
import {
  ALL_NODE_STATUSES,
  BODY_MAX_CHARS,
  EDGE_TYPES,
  NODE_TYPES,
  REVIEW_KINDS,
  REVIEW_VERDICTS,
  TITLE_MAX_CHARS,
} from "../../vocabulary/graph.js";
import type { AppDeps, AppEnv } from "../deps.js";
import { principalOf, tenantDbOf } from "../middleware/require-scope.js";
import { ApiRouter, defineRoute } from "../route.js";
import { ifMatchVersion } from "./params.js";
import { idSchema, lineSchema, multilineSchema, nothingToChange, pageSchema } from "./schemas.js";

const titleSchema = lineSchema({ max: TITLE_MAX_CHARS, trim: true });
const bodySchema = multilineSchema({ min: 0, max: BODY_MAX_CHARS });
/** Any status of the vocabulary; the domain checks it fits the node's type. */
const statusSchema = z.enum(ALL_NODE_STATUSES);

export const createNodeSchema = z.strictObject({
  type: z.enum(NODE_TYPES),
  title: titleSchema,
  body: bodySchema.default(""),
  status: statusSchema.optional(),
  reviewKind: z.enum(REVIEW_KINDS).optional(),
  verdict: z.enum(REVIEW_VERDICTS).nullable().optional(),
});
const updateNodeSchema = nothingToChange(
  z.strictObject({
    title: titleSchema.optional(),
    body: bodySchema.optional(),
    status: statusSchema.optional(),
    reviewKind: z.enum(REVIEW_KINDS).optional(),
    verdict: z.enum(REVIEW_VERDICTS).nullable().optional(),
  }),
);
/** A title search: the words a node's title must all contain. */
export const titleSearchSchema = z.string().min(1).max(200);
export const listNodesQuery = z.strictObject({
  type: z.enum(NODE_TYPES).optional(),
  status: statusSchema.optional(),
  updatedSince: z.iso.datetime({ offset: true }).optional(),
  q: titleSearchSchema.optional(),
  includeArchived: z.enum(["true", "false"]).default("false"),
  draft: z.enum(["true", "false"]).optional(),
  cursor: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});
export const createEdgeSchema = z.strictObject({ type: z.enum(EDGE_TYPES), from: idSchema, to: idSchema });
const traceQuery = z.strictObject({
  depth: z.coerce.number().int().min(1).max(MAX_TRACE_DEPTH).default(DEFAULT_TRACE_DEPTH),
  includeArchived: z.enum(["true", "false"]).default("false"),
});

const nodeTags = ["nodes"];
const edgeTags = ["edges"];
const read = ["graph:read"] as const;
const write = ["graph:write"] as const;

/** A node answer carries its version as a strong ETag, for the next If-Match. */
function nodeResponse(c: Context<AppEnv>, node: NodeView, status: 200 | 201 = 200): Response {
  c.header("ETag", `"${node.version}"`);
  return c.json({ node }, status);
}

function nodeRoutes(router: ApiRouter, deps: AppDeps): void {
  defineRoute(
    router,
    {
      method: "post",
      path: "/api/projects/:projectId/nodes",
      operationId: "createNode",
      summary: "Create a node (idea, decision, review, task, release, note)",
      tags: nodeTags,
      scopes: write,
      body: createNodeSchema,
      responses: { 201: { description: "the node, with its version as ETag" } },
    },
    async (c, { params, body }) =>
      nodeResponse(c, await createNode(deps.graph, tenantDbOf(deps, c), principalOf(c), params.projectId, body), 201),
  );

  defineRoute(
    router,
    {
      method: "get",
      path: "/api/projects/:projectId/nodes",
      operationId: "listNodes",
      reads: "content",
      summary: "A project's nodes, filtered, oldest change first, keyset-paginated (nextCursor)",
      tags: nodeTags,
      scopes: read,
      query: listNodesQuery,
      responses: { 200: { description: "a page of nodes" } },
    },
    async (c, { params, query }) => {
      const { includeArchived, draft, ...rest } = query;
      return c.json(
        await listNodes(deps.graph, tenantDbOf(deps, c), principalOf(c), params.projectId, {
          ...rest,
          includeArchived: includeArchived === "true",
          ...(draft === undefined ? {} : { draft: draft === "true" }),
        }),
      );
    },
  );

  defineRoute(
    router,
    {
      method: "get",
      path: "/api/nodes/:nodeId",
      operationId: "getNode",
      reads: "content",
      summary: "One node (ETag: its version)",
      tags: nodeTags,
      scopes: read,
      responses: { 200: { description: "the node" } },
    },
    async (c, { params }) =>
      nodeResponse(c, await getNode(deps.graph, tenantDbOf(deps, c), principalOf(c), params.nodeId)),
  );

  defineRoute(
    router,
    {
      method: "patch",
      path: "/api/nodes/:nodeId",
      operationId: "updateNode",
      summary: 'Edit a node; needs If-Match: "<version>"',
      tags: nodeTags,
      scopes: write,
      body: updateNodeSchema,
      responses: {
        200: { description: "the node at its new version" },
        412: { description: "the node changed since that version" },
        428: { description: "If-Match is missing" },
      },
    },
    async (c, { params, body }) => {
      // Undefined when If-Match is absent, which the domain refuses after the access check.
      const version = ifMatchVersion(c);
      return nodeResponse(
        c,
        await updateNode(deps.graph, tenantDbOf(deps, c), principalOf(c), params.nodeId, version, body),
      );
    },
  );

  defineRoute(
    router,
    {
      method: "delete",
      path: "/api/nodes/:nodeId",
      operationId: "archiveNode",
      summary: "Archive a node (soft delete; a tenant admin restores it, or erases it for good)",
      tags: nodeTags,
      scopes: write,
      responses: { 200: { description: "the archived node" } },
    },
    async (c, { params }) =>
      nodeResponse(c, await archiveNode(deps.graph, tenantDbOf(deps, c), principalOf(c), params.nodeId)),
  );

  defineRoute(
    router,
    {
      method: "post",
      path: "/api/nodes/:nodeId/restore",
      operationId: "restoreNode",
      summary: "Restore an archived node (tenant admins)",
      tags: nodeTags,
      scopes: ["tenant:admin"],
      responses: { 200: { description: "the restored node" } },
    },
    async (c, { params }) =>
      nodeResponse(c, await restoreNode(deps.graph, tenantDbOf(deps, c), principalOf(c), params.nodeId)),
  );

  defineRoute(
    router,
    {
      method: "get",
      path: "/api/nodes/:nodeId/trace",
      operationId: "traceNode",
      reads: "content",
      summary:
        "Chain of custody upstream of a node (release → reviews → decisions → ideas), with depths; archived nodes only with includeArchived",
      tags: nodeTags,
      scopes: read,
      query: traceQuery,
      responses: { 200: { description: "the traced nodes and custody edges" } },
    },
    async (c, { params, query }) =>
      c.json({
        trace: await traceUpstream(
          deps.graph,
          tenantDbOf(deps, c),
          principalOf(c),
          params.nodeId,
          query.depth,
          query.includeArchived === "true",
        ),
      }),
  );
}

function edgeRoutes(router: ApiRouter, deps: AppDeps): void {
  defineRoute(
    router,
    {
      method: "post",
      path: "/api/projects/:projectId/edges",
      operationId: "createEdge",
      summary: "Link two nodes of the project with a typed edge",
      tags: edgeTags,
      scopes: write,
      body: createEdgeSchema,
      responses: { 201: { description: "the edge" }, 409: { description: "that edge exists" } },
    },
    async (c, { params, body }) =>
      c.json({ edge: await createEdge(deps.graph, tenantDbOf(deps, c), principalOf(c), params.projectId, body) }, 201),
  );

  defineRoute(
    router,
    {
      method: "get",
      path: "/api/projects/:projectId/edges",
      operationId: "listEdges",
      reads: "content",
      summary: "A project's edges, keyset-paginated by id",
      tags: edgeTags,
      scopes: read,
      query: pageSchema,
      responses: { 200: { description: "a page of edges" } },
    },
    (c, { params, query }) =>
      c.json({ edges: listEdges(tenantDbOf(deps, c), principalOf(c), params.projectId, query.after, query.limit) }),
  );

  defineRoute(
    router,
    {
      method: "get",
      path: "/api/edges/:edgeId",
      operationId: "getEdge",
      reads: "content",
      summary: "One edge",
      tags: edgeTags,
      scopes: read,
      responses: { 200: { description: "the edge" } },
    },
    (c, { params }) => c.json({ edge: getEdge(tenantDbOf(deps, c), principalOf(c), params.edgeId) }),
  );

  defineRoute(
    router,
    {
      method: "delete",
      path: "/api/edges/:edgeId",
      operationId: "deleteEdge",
      summary: "Remove an edge",
      tags: edgeTags,
      scopes: write,
      responses: { 204: { description: "the edge is gone" } },
    },
    async (c, { params }) => {
      await deleteEdge(deps.graph, tenantDbOf(deps, c), principalOf(c), params.edgeId);
      return c.body(null, 204);
    },
  );
}

export function graphRoutes(deps: AppDeps): ApiRouter {
  const router = new ApiRouter(deps.identity.authenticator);
  nodeRoutes(router, deps);
  edgeRoutes(router, deps);
  return router;
}
