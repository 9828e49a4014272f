/**
 * POST /mcp: the Model Context Protocol door for agents (Streamable HTTP, stateless, JSON
 * answers). Like every route it goes through defineRoute: a bearer token with graph:read (401
 * problem+json with WWW-Authenticate without one), the body limit, a JSON body (415/400/422),
 * the request id and the access log. GET and DELETE /mcp answer 405: there is no server-sent
 * event stream and no session to end. Which tools a caller sees and may call is tools.ts's.
 * Requests from a foreign origin are refused before they get here (origin.ts, in the app's chain).
 */
import type { Context } from "hono";
import { z } from "zod";
import type { AppDeps, AppEnv } from "../deps.js";
import { principalOf, tenantDbOf } from "../middleware/require-scope.js";
import { ProblemError, problemResponse } from "../problem.js";
import { ApiRouter, defineRoute } from "../route.js";
import { serveMcp } from "./server.js";

export const MCP_PATH = "/mcp";

/**
 * One JSON-RPC 2.0 message (request, notification or response); the SDK checks the rest. A
 * batch (an array) is refused: MCP dropped batching in its 2025-06-18 revision, and one message
 * per request keeps the rate limit and the body limit per call.
 */
const jsonRpcMessage = z.strictObject({
  jsonrpc: z.literal("2.0"),
  id: z
    .union([z.number().int(), z.string().regex(/^[\x20-\x7e]{1,128}$/, "printable ASCII, at most 128 characters")])
    .optional(),
  method: z
    .string()
    .regex(/^[A-Za-z0-9_./$-]{1,128}$/, "a JSON-RPC method name")
    .optional(),
  params: z.looseObject({}).optional(),
  result: z.looseObject({}).optional(),
  error: z.looseObject({}).optional(),
});

const methodNotAllowed = (c: Context<AppEnv>): Response => {
  c.header("Allow", "POST");
  return problemResponse(
    c,
    new ProblemError(405, "method-not-allowed", "MCP here is stateless: POST /mcp only (no event stream, no session)"),
  );
};

export function mcpRoutes(deps: AppDeps): ApiRouter {
  const router = new ApiRouter(deps.identity.authenticator);
  defineRoute(
    router,
    {
      method: "post",
      path: MCP_PATH,
      operationId: "mcp",
      summary: "Model Context Protocol (Streamable HTTP, stateless, JSON answers): the tools the token's scopes allow",
      description:
        "One JSON-RPC message per request (initialize, tools/list, tools/call, ...). A tool's failure is a result with isError, not an HTTP error. See docs/agents.md.",
      tags: ["mcp"],
      scopes: ["graph:read"],
      body: jsonRpcMessage,
      responses: {
        200: { description: "the JSON-RPC answer" },
        202: { description: "a notification or response was accepted" },
        403: { description: "the request came from another origin, or the token lacks graph:read" },
        406: { description: "Accept must list application/json and text/event-stream" },
      },
    },
    (c, { body }) => serveMcp(deps, c, principalOf(c), tenantDbOf(deps, c), body),
  );
  for (const method of ["get", "delete"] as const)
    defineRoute(
      router,
      {
        method,
        path: MCP_PATH,
        operationId: `mcp${method === "get" ? "Stream" : "EndSession"}`,
        summary: "Not offered: 405 (no event stream, no session)",
        tags: ["mcp"],
        // It answers 405 to anyone and reads nothing: no credential to ask for.
        scopes: "public",
        responses: { 405: { description: "always" } },
      },
      methodNotAllowed,
    );
  return router;
}
