/**
 * POST /api/projects/:pid/nodes/:nid/ai/links: typed edges the model proposes between a node and
 * other nodes of its project, returned as suggestions and never stored. The model's answer is
 * untrusted: each proposed edge must name an edge type of the vocabulary, a candidate the model was
 * shown, endpoints that type allows, no edge that exists already, and a reason that passes the
 * text rule of a title; whatever fails is dropped and counted.
 */
import { z } from "zod";
import type { Principal } from "../../auth/principal.js";
import type { TenantDb } from "../../db/tenant-db.js";
import { getNode, listNodes, type NodeView } from "../../graph/nodes.js";
import type { GraphDeps } from "../../graph/projects.js";
import { lineSchema } from "../../text.js";
import { EDGE_RULES, EDGE_TYPES, type EdgeType } from "../../vocabulary/graph.js";
import { callModel, type AiDeps } from "../invoke.js";
import { promptMessages, type DataSection } from "../prompt.js";
import { doneEvent, requireInProject, textEvents, type AiEvent, type SuggestedEdge } from "./stream.js";

/** The nodes shown to the model as possible other ends: the first of the project's live nodes, in the list's order. */
const MAX_CANDIDATES = 100;
const MAX_SUGGESTIONS = 20;
const REASON_MAX_CHARS = 300;

const INSTRUCTIONS =
  "You propose typed links between one node of a project graph and other nodes of the same project. " +
  `Edge types: ${EDGE_TYPES.join(", ")}. An edge reads from its "from" end: "task implements decision", ` +
  '"idea relates idea", "decision supersedes decision". Propose only links the data clearly supports, at most ' +
  `${MAX_SUGGESTIONS}. Answer with JSON only: {"links":[{"type":"<edge type>","direction":"out"|"in",` +
  '"target":"<candidate id>","reason":"<one short line>"}]}. "out" means from the node to the target, "in" ' +
  "from the target to the node.";

/** The JSON Schema the provider is asked to follow (structured output). */
const ANSWER_FORMAT = {
  type: "object",
  properties: {
    links: {
      type: "array",
      items: {
        type: "object",
        properties: {
          type: { type: "string", enum: [...EDGE_TYPES] },
          direction: { type: "string", enum: ["out", "in"] },
          target: { type: "string" },
          reason: { type: "string" },
        },
        required: ["type", "direction", "target", "reason"],
        additionalProperties: false,
      },
    },
  },
  required: ["links"],
  additionalProperties: false,
} as const;

const proposalSchema = z.object({
  type: z.enum(EDGE_TYPES),
  direction: z.enum(["out", "in"]),
  target: z.string(),
  reason: lineSchema({ max: REASON_MAX_CHARS, trim: true }),
});

function sections(node: NodeView, candidates: readonly NodeView[]): DataSection[] {
  return [
    {
      kind: "node",
      attributes: { id: node.id, type: node.type, status: node.status },
      text: `${node.title}\n\n${node.body}`,
    },
    ...candidates.map((candidate): DataSection => ({
      kind: "candidate",
      attributes: { id: candidate.id, type: candidate.type, status: candidate.status },
      text: candidate.title,
    })),
  ];
}

function allowedEnds(type: EdgeType, from: NodeView, to: NodeView): boolean {
  const rule = EDGE_RULES[type];
  return (!rule.from || rule.from.includes(from.type)) && (!rule.to || rule.to.includes(to.type));
}

/** The proposals that pass every check, and how many did not. */
export function validatedSuggestions(
  answer: string,
  node: NodeView,
  candidates: readonly NodeView[],
  existing: ReadonlySet<string>,
): { edges: SuggestedEdge[]; rejected: number } {
  let links: unknown;
  try {
    links = (JSON.parse(answer) as { links?: unknown } | null)?.links;
  } catch {
    return { edges: [], rejected: 1 };
  }
  if (!Array.isArray(links)) return { edges: [], rejected: 1 };
  const proposals: readonly unknown[] = links;
  const byId = new Map(candidates.map((candidate) => [candidate.id, candidate]));
  const edges: SuggestedEdge[] = [];
  const seen = new Set(existing);
  for (const proposal of proposals) {
    const parsed = proposalSchema.safeParse(proposal);
    const target = parsed.success ? byId.get(parsed.data.target) : undefined;
    if (!parsed.success || !target || edges.length >= MAX_SUGGESTIONS) continue;
    const [from, to] = parsed.data.direction === "out" ? [node, target] : [target, node];
    const key = `${parsed.data.type}|${from.id}|${to.id}`;
    if (!allowedEnds(parsed.data.type, from, to) || seen.has(key)) continue;
    seen.add(key);
    edges.push({ type: parsed.data.type, from: from.id, to: to.id, reason: parsed.data.reason });
  }
  return { edges, rejected: proposals.length - edges.length };
}

export async function* proposeLinks(
  ai: AiDeps,
  graph: GraphDeps,
  tenantDb: TenantDb,
  principal: Principal,
  projectId: string,
  nodeId: string,
  signal: AbortSignal,
): AsyncGenerator<AiEvent, void, undefined> {
  const node = await getNode(graph, tenantDb, principal, nodeId);
  requireInProject(node, projectId);
  const page = await listNodes(graph, tenantDb, principal, projectId, {
    includeArchived: false,
    limit: MAX_CANDIDATES,
  });
  const candidates = page.nodes.filter((candidate) => candidate.id !== node.id);
  const existing = new Set(
    tenantDb.edges.touching([node.id]).map((edge) => `${edge.type}|${edge.fromId}|${edge.toId}`),
  );
  const messages = promptMessages(INSTRUCTIONS, sections(node, candidates));
  const call = callModel(
    ai,
    tenantDb,
    principal,
    { useCase: "links", projectId, messages, format: ANSWER_FORMAT },
    signal,
  );
  const result = yield* textEvents(call);
  yield { type: "suggestions", ...validatedSuggestions(result.text, node, candidates, existing) };
  yield doneEvent(result);
}
