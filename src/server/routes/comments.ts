/** Comments on nodes: what an agent at Advise may write (docs/agents.md), and any project writer. */
import { z } from "zod";
import { addComment, COMMENT_MAX_CHARS, listComments } from "../../graph/comments.js";
import type { AppDeps } from "../deps.js";
import { principalOf, tenantDbOf } from "../middleware/require-scope.js";
import { ApiRouter, defineRoute } from "../route.js";
import { multilineSchema } from "./schemas.js";

const createSchema = z.strictObject({ body: multilineSchema({ min: 1, max: COMMENT_MAX_CHARS }) });
const listQuery = z.strictObject({
  cursor: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

export function commentRoutes(deps: AppDeps): ApiRouter {
  const router = new ApiRouter(deps.identity.authenticator);
  const tags = ["comments"];

  defineRoute(
    router,
    {
      method: "get",
      path: "/api/nodes/:nodeId/comments",
      operationId: "listComments",
      reads: "content",
      summary: "A node's comments, oldest first, keyset-paginated (nextCursor)",
      tags,
      scopes: ["graph:read"],
      query: listQuery,
      responses: { 200: { description: "a page of comments" } },
    },
    async (c, { params, query }) =>
      c.json(await listComments(deps.graph, tenantDbOf(deps, c), principalOf(c), params.nodeId, query)),
  );

  defineRoute(
    router,
    {
      method: "post",
      path: "/api/nodes/:nodeId/comments",
      operationId: "addComment",
      summary: "Comment on a node",
      tags,
      scopes: ["graph:write"],
      body: createSchema,
      responses: {
        201: { description: "the comment" },
        403: { description: "may not write in this project, or an agent below Advise" },
      },
    },
    async (c, { params, body }) =>
      c.json(
        { comment: await addComment(deps.graph, tenantDbOf(deps, c), principalOf(c), params.nodeId, body.body) },
        201,
      ),
  );

  return router;
}
