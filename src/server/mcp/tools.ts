/**
 * The MCP tools: each one a thin door onto the same domain modules the HTTP routes call
 * (src/graph), with the caller's principal and tenant data, and input schemas built from the
 * routes' own (src/server/routes/graph.ts), so the limits and the text rule are the same.
 *
 * `toolsFor` is the one place that decides which tools a principal is offered: `tools/list`
 * shows exactly these, and a tool not offered cannot be called (the SDK answers "not found").
 * The domain layer still enforces everything (project reach, write rights): offering is not
 * trusting.
 */
import { z } from "zod";
import type { ReadRecord } from "../../audit/read-audit.js";
import type { Principal } from "../../auth/principal.js";
import { writeOutcome } from "../../auth/autonomy.js";
import { addComment, COMMENT_MAX_CHARS } from "../../graph/comments.js";
import { createEdge } from "../../graph/edges.js";
import { createNode, getNode, listNodes } from "../../graph/nodes.js";
import { DEFAULT_TRACE_DEPTH, MAX_TRACE_DEPTH, traceUpstream } from "../../graph/trace.js";
import { DomainError } from "../../errors.js";
import type { TaskType } from "../../vocabulary/autonomy.js";
import type { Scope } from "../../vocabulary/roles.js";
import { multilineSchema } from "../../text.js";
import type { AppDeps } from "../deps.js";
import { createEdgeSchema, createNodeSchema, listNodesQuery, titleSearchSchema } from "../routes/graph.js";
import { idSchema } from "../routes/schemas.js";

/** One tenant's data, as the door in AppDeps hands it out (src/server names no db type). */
type TenantDb = ReturnType<AppDeps["door"]["forTenant"]>;

/** What a tool runs with: the parts it calls, the caller, and the caller's tenant data. */
export interface ToolContext {
  readonly deps: Pick<AppDeps, "graph" | "license" | "ai">;
  readonly principal: Principal;
  readonly tenantDb: TenantDb;
  /** Aborted when the client goes away: ends a model call a tool started. */
  readonly signal: AbortSignal;
}

/** What a tool produced, and the read it made (recorded by read auditing once it succeeded). */
export interface ToolOutcome {
  readonly value: Record<string, unknown>;
  readonly read?: Omit<ReadRecord, "kind" | "operation">;
}

/** Exactly the MCP ToolAnnotations the tools declare (readOnlyHint and openWorldHint are always stated). */
export type ToolAnnotations =
  | { readonly readOnlyHint: true; readonly openWorldHint: false }
  /** Reads, and may reach a model outside the appliance (when the tenant enabled an external provider). */
  | { readonly readOnlyHint: true; readonly openWorldHint: true }
  | {
      readonly readOnlyHint: false;
      readonly destructiveHint: false;
      readonly idempotentHint: false;
      readonly openWorldHint: false;
    };

export interface McpTool<S extends z.ZodObject = z.ZodObject> {
  /** snake_case, stable: clients and their configurations name it. */
  readonly name: string;
  readonly title: string;
  readonly description: string;
  /** Every scope the principal must hold for the tool to be offered at all. */
  readonly scopes: readonly [Scope, ...Scope[]];
  /** Whether it changes the graph. */
  readonly effect: "reads" | "creates";
  /** The autonomy task type of its write (src/vocabulary/autonomy.ts); an agent whose level refuses it is not offered the tool. */
  readonly taskType?: TaskType;
  readonly annotations: ToolAnnotations;
  readonly input: S;
  run(context: ToolContext, args: z.output<S>): Promise<ToolOutcome>;
}

const READS: ToolAnnotations = { readOnlyHint: true, openWorldHint: false };
/** A create adds something new each time (not idempotent) and never removes or overwrites anything. */
const CREATES: ToolAnnotations = {
  readOnlyHint: false,
  destructiveHint: false,
  idempotentHint: false,
  openWorldHint: false,
};

const projectIdInput = idSchema
  .optional()
  .describe("The project; may be left out with a token restricted to one project (that project is used)");

/** The named project, else the token's own; a tenant-wide token must name one. Reach is the domain's to check. */
function projectOf(principal: Principal, projectId: string | undefined): string {
  const chosen = projectId ?? principal.projectId;
  if (chosen === null)
    throw new DomainError("rejected", "projectId is required: this token is not restricted to one project");
  return chosen;
}

/** JSON has booleans and numbers: the HTTP query's string forms ("true", coerced numbers) are not needed here. */
const nodeFilters = listNodesQuery.omit({ q: true, includeArchived: true, limit: true, draft: true }).extend({
  projectId: projectIdInput,
  includeArchived: z.boolean().default(false),
  draft: z.boolean().optional(),
  limit: z.number().int().min(1).max(100).default(50),
});

function tool<S extends z.ZodObject>(definition: McpTool<S>): McpTool {
  return definition as unknown as McpTool;
}

async function nodePage(
  { deps, principal, tenantDb }: ToolContext,
  args: z.output<typeof nodeFilters> & { q?: string },
): Promise<ToolOutcome> {
  const { projectId: given, ...query } = args;
  const projectId = projectOf(principal, given);
  const page = await listNodes(deps.graph, tenantDb, principal, projectId, query);
  return { value: page, read: { resource: "nodes", ids: { projectId } } };
}

const listNodesTool = tool({
  name: "list_nodes",
  title: "List nodes",
  description:
    "The nodes (ideas, decisions, reviews, tasks, releases, notes) of a project, oldest change first, filtered by type, status or change time; pass nextCursor back as cursor for the next page",
  scopes: ["graph:read"],
  effect: "reads",
  annotations: READS,
  input: nodeFilters,
  run: nodePage,
});

const searchNodesTool = tool({
  name: "search_nodes",
  title: "Search nodes",
  description:
    "The nodes of a project whose title contains every word of the query (words of two or more letters or digits), with the same filters as list_nodes",
  scopes: ["graph:read"],
  effect: "reads",
  annotations: READS,
  input: nodeFilters.extend({ q: titleSearchSchema }),
  run: nodePage,
});

const readNodeTool = tool({
  name: "read_node",
  title: "Read a node",
  description: "One node with its title, body, status, author and version",
  scopes: ["graph:read"],
  effect: "reads",
  annotations: READS,
  input: z.strictObject({ nodeId: idSchema }),
  async run({ deps, principal, tenantDb }, { nodeId }) {
    const node = await getNode(deps.graph, tenantDb, principal, nodeId);
    return { value: { node }, read: { resource: "nodes", ids: { nodeId } } };
  },
});

const readTraceTool = tool({
  name: "read_trace",
  title: "Read a chain of custody",
  description:
    "Everything upstream of a node along custody edges (a release's tasks and decisions, their reviews, the ideas they came from), with each node's distance",
  scopes: ["graph:read"],
  effect: "reads",
  annotations: READS,
  input: z.strictObject({
    nodeId: idSchema,
    depth: z.number().int().min(1).max(MAX_TRACE_DEPTH).default(DEFAULT_TRACE_DEPTH),
    includeArchived: z.boolean().default(false),
  }),
  async run({ deps, principal, tenantDb }, { nodeId, depth, includeArchived }) {
    const trace = await traceUpstream(deps.graph, tenantDb, principal, nodeId, depth, includeArchived);
    return { value: { trace }, read: { resource: "nodes", ids: { nodeId } } };
  },
});

const createNodeTool = tool({
  name: "create_node",
  title: "Create a node",
  description:
    "Adds an idea, decision, review, task, release or note to a project; the caller is recorded as its author",
  scopes: ["graph:read", "graph:write"],
  effect: "creates",
  taskType: "node.create",
  annotations: CREATES,
  input: createNodeSchema.extend({ projectId: projectIdInput }),
  async run({ deps, principal, tenantDb }, { projectId, ...input }) {
    // The license guard lets POST /mcp through (its reads go on after expiry); each change asks here.
    deps.license.assertWritable();
    return {
      value: { node: await createNode(deps.graph, tenantDb, principal, projectOf(principal, projectId), input) },
    };
  },
});

const createEdgeTool = tool({
  name: "create_edge",
  title: "Link two nodes",
  description:
    "Links two nodes of a project with a typed edge read from `from` to `to` (a task implements a decision, a decision originates_from an idea); the caller is recorded as its author",
  scopes: ["graph:read", "graph:write"],
  effect: "creates",
  taskType: "edge.create",
  annotations: CREATES,
  input: createEdgeSchema.extend({ projectId: projectIdInput }),
  async run({ deps, principal, tenantDb }, { projectId, ...input }) {
    deps.license.assertWritable();
    return {
      value: { edge: await createEdge(deps.graph, tenantDb, principal, projectOf(principal, projectId), input) },
    };
  },
});

const addReviewCommentTool = tool({
  name: "add_review_comment",
  title: "Comment on a review",
  description:
    "Adds a comment to a review node (findings, questions, suggestions); the caller is recorded as its author. Comments change nothing else.",
  scopes: ["graph:read", "graph:write"],
  effect: "creates",
  taskType: "comment",
  annotations: CREATES,
  input: z.strictObject({ nodeId: idSchema, body: multilineSchema({ min: 1, max: COMMENT_MAX_CHARS }) }),
  async run({ deps, principal, tenantDb }, { nodeId, body }) {
    deps.license.assertWritable();
    const review = await getNode(deps.graph, tenantDb, principal, nodeId);
    if (review.type !== "review")
      throw new DomainError("rejected", `comments through this tool go on reviews; ${nodeId} is a ${review.type}`);
    return { value: { comment: await addComment(deps.graph, tenantDb, principal, nodeId, body) } };
  },
});

const requestSummaryTool = tool({
  name: "request_summary",
  title: "Summarise a node",
  description:
    "Summarises a node and its neighbours with the tenant's language model (Ollama unless the tenant chose another); the call is recorded and audited",
  scopes: ["graph:read", "ai:invoke"],
  effect: "reads",
  annotations: { readOnlyHint: true, openWorldHint: true },
  input: z.strictObject({ nodeId: idSchema }),
  async run({ deps, principal, tenantDb, signal }, { nodeId }) {
    const node = await getNode(deps.graph, tenantDb, principal, nodeId);
    let summary = "";
    let done: Record<string, unknown> = {};
    for await (const event of deps.ai.summarize(tenantDb, principal, node.projectId, nodeId, signal)) {
      if (event.type === "text") summary += event.text;
      if (event.type === "done")
        done = { callId: event.callId, provider: event.provider, model: event.model, usage: event.usage };
    }
    return { value: { summary, ...done }, read: { resource: "nodes", ids: { nodeId } } };
  },
});

/** Every tool of the server, in the order `tools/list` shows them. */
export const MCP_TOOLS: readonly McpTool[] = [
  listNodesTool,
  searchNodesTool,
  readNodeTool,
  readTraceTool,
  requestSummaryTool,
  createNodeTool,
  createEdgeTool,
  addReviewCommentTool,
];

/** Whether an agent's autonomy level in its token's project allows the tool's write at all (Assist drafts count). */
function levelAllows(principal: Principal, tenantDb: TenantDb, taskType: TaskType | undefined): boolean {
  if (taskType === undefined || principal.actorKind !== "agent" || principal.projectId === null) return true;
  return writeOutcome(tenantDb, principal, principal.projectId, taskType).outcome !== "refused";
}

/**
 * The tools this principal is offered: those whose every scope its credential carries and, for
 * an agent, whose write its autonomy level allows. The one decision point; the domain layer still
 * enforces both on every call.
 */
export function toolsFor(
  principal: Principal,
  tenantDb: TenantDb,
  catalogue: readonly McpTool[] = MCP_TOOLS,
): McpTool[] {
  return catalogue.filter(
    (t) => t.scopes.every((scope) => principal.scopes.has(scope)) && levelAllows(principal, tenantDb, t.taskType),
  );
}
