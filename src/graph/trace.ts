/**
 * The chain of custody of a node: everything upstream of it along custody edges (a release's
 * shipped tasks and decisions, its reviews, the decisions behind them, the ideas they came
 * from), with each node's distance. One recursive query, bounded in depth and size.
 */
import type { Principal } from "../auth/principal.js";
import type { TenantDb } from "../db/tenant-db.js";
import { toEdgeView, type EdgeView } from "./edges.js";
import { nodeAccess } from "./nodes.js";
import type { GraphDeps } from "./projects.js";
import { EDGE_RULES, UPSTREAM_VIA_FROM, UPSTREAM_VIA_TO, type NodeType } from "../vocabulary/graph.js";

export const DEFAULT_TRACE_DEPTH = 16;
export const MAX_TRACE_DEPTH = 64;
export const MAX_TRACE_NODES = 2_000;

export interface TraceNode {
  readonly id: string;
  readonly type: NodeType;
  readonly status: string;
  readonly title: string;
  readonly depth: number;
}

export interface Trace {
  readonly root: string;
  readonly depth: number;
  readonly truncated: boolean;
  readonly nodes: TraceNode[];
  /** The custody edges among the traced nodes. */
  readonly edges: EdgeView[];
}

/**
 * Archived nodes are neither shown nor walked through unless `includeArchived`; drafts (nodes and
 * edges a human has not approved) never are; the node asked for is always there.
 */
export async function traceUpstream(
  deps: GraphDeps,
  tenantDb: TenantDb,
  principal: Principal,
  nodeId: string,
  depth = DEFAULT_TRACE_DEPTH,
  includeArchived = false,
): Promise<Trace> {
  nodeAccess(tenantDb, principal, nodeId);
  const steps = tenantDb.edges.trace(
    nodeId,
    UPSTREAM_VIA_TO,
    UPSTREAM_VIA_FROM,
    depth,
    MAX_TRACE_NODES + 1,
    includeArchived,
  );
  const kept = steps.slice(0, MAX_TRACE_NODES);
  const depthOf = new Map(kept.map((s) => [s.nodeId, s.depth]));
  const records = tenantDb.nodes.getMany([...depthOf.keys()]);
  const nodes = await Promise.all(
    records.map(async (n) => ({
      id: n.id,
      type: n.type,
      status: n.status,
      title: await deps.crypto.decryptField(n.tenantId, { table: "nodes", column: "title", rowId: n.id }, n.titleEnc),
      depth: depthOf.get(n.id) ?? 0,
    })),
  );
  nodes.sort((a, b) => a.depth - b.depth || a.id.localeCompare(b.id));
  const edges = tenantDb.edges
    .touching([...depthOf.keys()])
    .filter(
      (e) => !e.draft && EDGE_RULES[e.type].upstream !== undefined && depthOf.has(e.fromId) && depthOf.has(e.toId),
    )
    .map(toEdgeView);
  return { root: nodeId, depth, truncated: steps.length > MAX_TRACE_NODES, nodes, edges };
}
