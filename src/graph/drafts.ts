/**
 * Drafts: a node or an edge that an agent at Assist created (or a feature saved as a draft, like
 * the AI decision draft) is stored and listed with `draft: true` but takes no effect (no trace, no
 * chain of custody, no supersedes) until a person with write access to the project approves it.
 * Discarding a draft node archives it (a tenant admin may erase it); discarding a draft edge
 * removes it. Agents can neither approve nor discard.
 */
import { refuseAgents } from "../auth/autonomy.js";
import { actorOf, type Principal } from "../auth/principal.js";
import type { TenantDb } from "../db/tenant-db.js";
import { DomainError } from "../errors.js";
import { applyEdgeEffects, getEdge, type EdgeView } from "./edges.js";
import { nodeAccess, toNodeView, type NodeView } from "./nodes.js";
import { accessWithin, type GraphDeps } from "./projects.js";

function mayDecide(principal: Principal, canWrite: boolean, action: string): void {
  refuseAgents(principal, action);
  if (!canWrite) throw new DomainError("forbidden", "you may read this project but not change it");
}

type Decision = "approved" | "discarded";

async function decideNode(
  deps: GraphDeps,
  tenantDb: TenantDb,
  principal: Principal,
  nodeId: string,
  decision: Decision,
): Promise<NodeView> {
  const { node, canWrite } = nodeAccess(tenantDb, principal, nodeId);
  mayDecide(principal, canWrite, decision === "approved" ? "approve a draft" : "discard a draft");
  const written = await tenantDb.write((tx) => {
    const current = tx.nodes.get(nodeId);
    if (!current?.draft) throw new DomainError("conflict", "the node is not a draft");
    if (current.archivedAt !== null) throw new DomainError("conflict", "the draft was discarded");
    const changes = decision === "approved" ? { draft: false as const } : { archivedAt: tx.now };
    const row = tx.nodes.update(nodeId, current.version, changes, tx.now);
    if (!row) throw new DomainError("conflict", "the draft changed meanwhile; try again");
    tx.audit({
      event: decision === "approved" ? "draft.approved" : "draft.discarded",
      sensitivity: "normal",
      severity: "info",
      tenantId: tenantDb.tenantId,
      actor: actorOf(principal),
      payload: {
        kind: "node",
        nodeId,
        projectId: node.projectId,
        authorType: node.authorType,
        authorId: node.authorId,
      },
    });
    return row;
  });
  return toNodeView(deps, written);
}

/** Makes a draft node take effect (a person with write access to its project). */
export function approveDraftNode(
  deps: GraphDeps,
  tenantDb: TenantDb,
  principal: Principal,
  nodeId: string,
): Promise<NodeView> {
  return decideNode(deps, tenantDb, principal, nodeId, "approved");
}

/** Archives a draft node, still a draft: it never takes effect. */
export function discardDraftNode(
  deps: GraphDeps,
  tenantDb: TenantDb,
  principal: Principal,
  nodeId: string,
): Promise<NodeView> {
  return decideNode(deps, tenantDb, principal, nodeId, "discarded");
}

async function decideEdge(tenantDb: TenantDb, principal: Principal, edgeId: string, decision: Decision): Promise<void> {
  const edge = tenantDb.edges.get(edgeId);
  const canWrite = accessWithin(tenantDb, principal, edge, "edge");
  mayDecide(principal, canWrite, decision === "approved" ? "approve a draft" : "discard a draft");
  await tenantDb.write((tx) => {
    const current = tx.edges.get(edgeId);
    if (!current?.draft) throw new DomainError("conflict", "the edge is not a draft");
    if (decision === "approved") {
      const ends = tx.nodes.getMany([current.fromId, current.toId]);
      if (ends.some((n) => n.draft)) throw new DomainError("conflict", "approve the draft nodes it joins first");
      tx.edges.approve(edgeId);
      applyEdgeEffects(tx, current.type, current.toId);
    } else tx.edges.delete(edgeId);
    tx.audit({
      event: decision === "approved" ? "draft.approved" : "draft.discarded",
      sensitivity: "normal",
      severity: "info",
      tenantId: tenantDb.tenantId,
      actor: actorOf(principal),
      payload: {
        kind: "edge",
        edgeId,
        projectId: current.projectId,
        type: current.type,
        from: current.fromId,
        to: current.toId,
        authorId: current.createdBy,
      },
    });
  });
}

/** Makes a draft edge take effect; the nodes it joins must be in effect already. */
export async function approveDraftEdge(tenantDb: TenantDb, principal: Principal, edgeId: string): Promise<EdgeView> {
  await decideEdge(tenantDb, principal, edgeId, "approved");
  return getEdge(tenantDb, principal, edgeId);
}

/** Removes a draft edge: it never took effect. */
export function discardDraftEdge(tenantDb: TenantDb, principal: Principal, edgeId: string): Promise<void> {
  return decideEdge(tenantDb, principal, edgeId, "discarded");
}
