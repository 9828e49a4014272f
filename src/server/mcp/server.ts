/**
 * One MCP exchange: a new McpServer and a stateless Streamable HTTP transport for each POST,
 * with only the tools this principal is offered (tools.ts `toolsFor`), answering in JSON (no
 * SSE stream to keep open). Nothing outlives the request: no session, no state between calls.
 * A tool's failure is a result with `isError` (tool-result.ts).
 */
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import type { jsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/types.js";
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { Principal } from "../../auth/principal.js";
import { VERSION } from "../../version.js";
import type { AppDeps, AppEnv } from "../deps.js";
import { clientGone } from "../client-gone.js";
import { ProblemError } from "../problem.js";
import { failure, textResult } from "./tool-result.js";
import { toolsFor, type McpTool, type ToolContext } from "./tools.js";

export type McpDeps = Pick<AppDeps, "graph" | "license" | "identity" | "log" | "ai">;

interface Sdk {
  readonly McpServer: typeof McpServer;
  readonly Transport: typeof WebStandardStreamableHTTPServerTransport;
  /** Built once: each Server would otherwise build its own (about half the per-request cost). */
  readonly validator: jsonSchemaValidator;
}

let loaded: Promise<Sdk> | undefined;

/**
 * The SDK's server side, loaded by the first MCP request rather than with the module: its
 * protocol schemas and the JSON Schema validator cost every `vecto` command, `serve` included,
 * tens of milliseconds at start otherwise (the bundle evaluates every module it holds).
 */
function sdk(): Promise<Sdk> {
  loaded ??= Promise.all([
    import("@modelcontextprotocol/sdk/server/mcp.js"),
    import("@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js"),
    import("@modelcontextprotocol/sdk/validation/ajv"),
  ]).then(([mcp, transport, ajv]) => ({
    McpServer: mcp.McpServer,
    Transport: transport.WebStandardStreamableHTTPServerTransport,
    validator: new ajv.AjvJsonSchemaValidator(),
  }));
  return loaded;
}

function register(server: McpServer, deps: McpDeps, context: ToolContext, requestId: string, tool: McpTool): void {
  server.registerTool(
    tool.name,
    { title: tool.title, description: tool.description, inputSchema: tool.input, annotations: tool.annotations },
    async (args: Record<string, unknown>) => {
      try {
        const outcome = await tool.run(context, args);
        if (outcome.read !== undefined)
          deps.identity.reads.record(context.principal, { kind: "content", operation: tool.name, ...outcome.read });
        return textResult(outcome.value);
      } catch (error) {
        return failure(deps.log, requestId, tool.name, error);
      }
    },
  );
}

/** What the transport looks at (content negotiation, protocol version); not the credential, nor anything else. */
const TRANSPORT_HEADERS = ["accept", "content-type", "mcp-protocol-version", "mcp-session-id", "last-event-id"];

function transportHeaders(c: Context<AppEnv>): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name of TRANSPORT_HEADERS) {
    const value = c.req.header(name);
    if (value !== undefined) headers[name] = value;
  }
  return headers;
}

/** The transport's own refusals (Accept, protocol version, a malformed message) as problem details. */
async function refusal(response: Response): Promise<ProblemError> {
  const body = (await response.json().catch(() => ({}))) as { error?: { message?: unknown } };
  const message = typeof body.error?.message === "string" ? body.error.message : undefined;
  return new ProblemError(response.status as ContentfulStatusCode, "bad-request", message);
}

/**
 * Serves one POST /mcp whose JSON body was already read and checked (route.ts); the transport
 * is handed the parsed message and the headers, never the socket's body a second time.
 */
export async function serveMcp(
  deps: McpDeps,
  c: Context<AppEnv>,
  principal: Principal,
  tenantDb: ToolContext["tenantDb"],
  message: unknown,
): Promise<Response> {
  const requestId = c.get("requestId");
  const { McpServer, Transport, validator } = await sdk();
  const server = new McpServer({ name: "vecto", version: VERSION }, { jsonSchemaValidator: validator });
  const context: ToolContext = { deps, principal, tenantDb, signal: clientGone(c) };
  for (const tool of toolsFor(principal, tenantDb)) register(server, deps, context, requestId, tool);
  const transport = new Transport({ enableJsonResponse: true });
  await server.connect(transport);
  try {
    const request = new Request(c.req.url, { method: "POST", headers: transportHeaders(c) });
    const response = await transport.handleRequest(request, { parsedBody: message });
    if (response.status >= 400) throw await refusal(response);
    return response;
  } finally {
    // With JSON answers the response is complete once handleRequest resolved: closing loses nothing.
    await server.close();
  }
}
