/**
 * Edges: typed links between two nodes of one project, in the one canonical direction of their
 * type (src/vocabulary/graph.ts). One edge per (type, from, to); no edge crosses a project or a
 * tenant (also enforced by the schema); types that must stay acyclic refuse a closing edge.
 * A `supersedes` edge between decisions marks the older one superseded in the same transaction.
 */
import { randomUUID } from "node:crypto";
import { actorOf, type Principal } from "../auth/principal.js";
import type { EdgeRecord } from "../db/repositories/edges.js";
import type { NodeRecord } from "../db/repositories/nodes.js";
import { DomainError } from "../errors.js";
import { projectAccess } from "../auth/project-access.js";
import { authorizeWrite, grantEventFields } from "../auth/autonomy.js";
import type { TenantDb, TenantTx } from "../db/tenant-db.js";
import { accessWithin, type GraphDeps } from "./projects.js";
import { checkSignedOffEdge } from "./sign-off-rules.js";
import { EDGE_RULES, type EdgeType } from "../vocabulary/graph.js";

/** Deeper than any real chain; bounds the cycle check on a hostile graph. */
const CYCLE_SEARCH_DEPTH = 10_000;

export interface EdgeView {
  readonly id: string;
  readonly projectId: string;
  readonly type: EdgeType;
  /** How the edge reads from its `to` end. */
  readonly inverse: string;
  readonly from: string;
  readonly to: string;
  readonly createdBy: string;
  /** Whether a person or an agent made the edge (nodes say it as author.type). */
  readonly createdByType: "human" | "agent";
  readonly createdAt: string;
  /** A draft takes effect only when a human approves it (src/graph/drafts.ts). */
  readonly draft: boolean;
}

export function toEdgeView(edge: EdgeRecord): EdgeView {
  return {
    id: edge.id,
    projectId: edge.projectId,
    type: edge.type,
    inverse: EDGE_RULES[edge.type].inverse,
    from: edge.fromId,
    to: edge.toId,
    createdBy: edge.createdBy,
    createdByType: edge.createdByType,
    createdAt: edge.createdAt,
    draft: edge.draft,
  };
}

function endpoint(tenantDb: TenantDb, projectId: string, nodeId: string, end: "from" | "to"): NodeRecord {
  const node = tenantDb.nodes.get(nodeId);
  // A node of another project (or tenant) is reported exactly like a missing one.
  if (!node || node.projectId !== projectId) throw new DomainError("rejected", `${end}: no such node in this project`);
  return node;
}

function checkEndpoints(type: EdgeType, from: NodeRecord, to: NodeRecord): void {
  const rule = EDGE_RULES[type];
  if (from.id === to.id) throw new DomainError("rejected", "an edge cannot join a node to itself");
  if (rule.from && !rule.from.includes(from.type))
    throw new DomainError("rejected", `${type} starts at a ${rule.from.join(" or ")}, not a ${from.type}`);
  if (rule.to && !rule.to.includes(to.type))
    throw new DomainError("rejected", `${type} ends at a ${rule.to.join(" or ")}, not a ${to.type}`);
}

export async function createEdge(
  deps: GraphDeps,
  tenantDb: TenantDb,
  principal: Principal,
  projectId: string,
  input: { type: EdgeType; from: string; to: string },
  options: { readonly draft?: boolean } = {},
): Promise<EdgeView> {
  if (!projectAccess(tenantDb, principal, projectId).canWrite)
    throw new DomainError("forbidden", "you may read this project but not change it");
  const grant = authorizeWrite(tenantDb, principal, projectId, "edge.create");
  const draft = options.draft === true || grant.draft;
  const governed = grantEventFields({ ...grant, draft });
  const from = endpoint(tenantDb, projectId, input.from, "from");
  const to = endpoint(tenantDb, projectId, input.to, "to");
  checkEndpoints(input.type, from, to);
  const id = randomUUID();
  await tenantDb.write((tx) => {
    checkSignedOffEdge(input.type, tx.nodes.get(to.id));
    if (tx.edges.find(input.type, from.id, to.id))
      throw new DomainError("conflict", `a ${input.type} edge from ${from.id} to ${to.id} exists`);
    // Checked inside the transaction: no concurrent edge can slip a cycle in between check and insert.
    if (EDGE_RULES[input.type].acyclic && tx.edges.reachable(input.type, to.id, from.id, CYCLE_SEARCH_DEPTH)) {
      throw new DomainError("rejected", `this ${input.type} edge would close a cycle`);
    }
    tx.edges.insert({
      id,
      projectId,
      type: input.type,
      fromId: from.id,
      toId: to.id,
      createdBy: principal.userId,
      createdByType: principal.actorKind,
      createdAt: tx.now,
      draft,
    });
    if (!draft) applyEdgeEffects(tx, input.type, to.id);
    tx.audit({
      event: "edge.created",
      sensitivity: "normal",
      severity: "info",
      tenantId: tenantDb.tenantId,
      actor: actorOf(principal),
      payload: { edgeId: id, projectId, type: input.type, from: from.id, to: to.id, ...governed.payload },
      ...(governed.notify ? { notify: governed.notify } : {}),
    });
  });
  const edge = tenantDb.edges.get(id);
  if (!edge) throw new Error("edge vanished after write");
  return toEdgeView(edge);
}

/** What an edge in effect does beyond itself: a `supersedes` edge marks the older decision superseded. */
export function applyEdgeEffects(tx: TenantTx, type: EdgeType, toId: string): void {
  if (type !== "supersedes") return;
  const older = tx.nodes.get(toId);
  if (older && older.status !== "superseded")
    tx.nodes.update(older.id, older.version, { status: "superseded" }, tx.now);
}

function edgeAccess(tenantDb: TenantDb, principal: Principal, edgeId: string): { edge: EdgeRecord; canWrite: boolean } {
  const edge = tenantDb.edges.get(edgeId);
  const canWrite = accessWithin(tenantDb, principal, edge, "edge");
  return { edge: edge as EdgeRecord, canWrite };
}

export function getEdge(tenantDb: TenantDb, principal: Principal, edgeId: string): EdgeView {
  return toEdgeView(edgeAccess(tenantDb, principal, edgeId).edge);
}

export function listEdges(
  tenantDb: TenantDb,
  principal: Principal,
  projectId: string,
  after: string | undefined,
  limit: number,
): EdgeView[] {
  projectAccess(tenantDb, principal, projectId);
  return tenantDb.edges.listForProject(projectId, after, limit).map(toEdgeView);
}

export async function deleteEdge(
  deps: GraphDeps,
  tenantDb: TenantDb,
  principal: Principal,
  edgeId: string,
): Promise<void> {
  const { edge, canWrite } = edgeAccess(tenantDb, principal, edgeId);
  if (!canWrite) throw new DomainError("forbidden", "you may read this project but not change it");
  const governed = grantEventFields(authorizeWrite(tenantDb, principal, edge.projectId, "edge.delete"));
  await tenantDb.write((tx) => {
    checkSignedOffEdge(edge.type, tx.nodes.get(edge.toId));
    tx.edges.delete(edgeId);
    // From and to: what re-creating the edge needs, should the deletion be undone.
    tx.audit({
      event: "edge.deleted",
      sensitivity: "normal",
      severity: "info",
      tenantId: tenantDb.tenantId,
      actor: actorOf(principal),
      payload: {
        edgeId,
        projectId: edge.projectId,
        type: edge.type,
        from: edge.fromId,
        to: edge.toId,
        ...governed.payload,
      },
      ...(governed.notify ? { notify: governed.notify } : {}),
    });
  });
}
