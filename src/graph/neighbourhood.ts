/**
 * A node with the nodes one edge away from it, in either direction: what the AI summary of a node
 * reads (src/ai/features/summarize.ts). Archived neighbours are left out, like in the trace.
 */
import type { Principal } from "../auth/principal.js";
import type { TenantDb } from "../db/tenant-db.js";
import { toEdgeView, type EdgeView } from "./edges.js";
import { nodeAccess, toNodeView, type NodeView } from "./nodes.js";
import type { GraphDeps } from "./projects.js";

/** More than a page of context would hold; the rest is counted, not read. */
export const MAX_NEIGHBOURS = 50;

export interface Neighbour {
  readonly edge: EdgeView;
  /** "out": the edge goes from the node to this neighbour; "in": from the neighbour to the node. */
  readonly direction: "out" | "in";
  readonly node: NodeView;
}

export interface Neighbourhood {
  readonly node: NodeView;
  readonly neighbours: readonly Neighbour[];
  /** Neighbours left out beyond MAX_NEIGHBOURS. */
  readonly omitted: number;
}

export async function neighbourhood(
  deps: GraphDeps,
  tenantDb: TenantDb,
  principal: Principal,
  nodeId: string,
): Promise<Neighbourhood> {
  const { node, edges, others } = tenantDb.read(() => {
    const { node: record } = nodeAccess(tenantDb, principal, nodeId);
    const touching = tenantDb.edges.touching([record.id]);
    const ids = touching.map((edge) => (edge.fromId === record.id ? edge.toId : edge.fromId));
    const live = new Map(
      tenantDb.nodes
        .getMany([...new Set(ids)])
        .filter((other) => other.archivedAt === null)
        .map((other) => [other.id, other]),
    );
    return { node: record, edges: touching, others: live };
  });
  const kept = edges.filter((edge) => others.has(edge.fromId === node.id ? edge.toId : edge.fromId));
  const neighbours: Neighbour[] = [];
  for (const edge of kept.slice(0, MAX_NEIGHBOURS)) {
    const direction = edge.fromId === node.id ? "out" : "in";
    const other = others.get(direction === "out" ? edge.toId : edge.fromId);
    if (other) neighbours.push({ edge: toEdgeView(edge), direction, node: await toNodeView(deps, other) });
  }
  return { node: await toNodeView(deps, node), neighbours, omitted: Math.max(0, kept.length - MAX_NEIGHBOURS) };
}
