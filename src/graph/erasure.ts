/**
 * Erasure of content on documented request (datasheet section 9: "soft-delete with archival;
 * hard-delete on documented request"). A tenant admin hard-deletes a node or a whole project
 * that was archived first, giving the reason (the request's reference). In one transaction with
 * its audit event: the title and body ciphertext, the title's search terms, its comments and revisions, the
 * edges touching it (and for a project: every node, edge and membership, and the project row) are deleted;
 * secure_delete zeroes the freed bytes and the WAL is folded into the file afterwards. What
 * remains is the audit tombstone: ids, type, counts, the reason and who asked; no content.
 *
 * Archived first, as a two-step safety: erasure cannot be undone, so a single mistaken call on
 * live content must not destroy it; the item has to be out of sight already (any writer can
 * archive, only a tenant admin restores or erases).
 */
import { actorOf, type Principal } from "../auth/principal.js";
import type { Database } from "../db/db.js";
import type { TenantDb, TenantTx } from "../db/tenant-db.js";
import { DomainError } from "../errors.js";
import { nodeAccess } from "./nodes.js";
import { projectAccess } from "../auth/project-access.js";
import { requireTenantAdmin, type GraphDeps } from "./projects.js";

export const REASON_MAX_CHARS = 500;

export interface NodeErasure {
  readonly nodeId: string;
  readonly projectId: string;
  readonly edgesErased: number;
}

export interface ProjectErasure {
  readonly projectId: string;
  readonly nodesErased: number;
  readonly edgesErased: number;
}

/** Hard delete of a node: its edges, search terms and row. Undefined when there was no such node. */
function eraseNodeRows(tx: TenantTx, id: string): { edges: number } | undefined {
  tx.comments.eraseForNode(id);
  tx.nodeRevisions.eraseForNode(id);
  const edges = tx.edges.deleteTouching(id);
  return tx.nodes.erase(id) ? { edges } : undefined;
}

/**
 * Hard delete of a project: its edges, nodes (with their search terms), memberships and row. Undefined when there was
 * no such project.
 */
function eraseProjectRows(tx: TenantTx, id: string): { nodes: number; edges: number } | undefined {
  tx.comments.eraseForProject(id);
  tx.nodeRevisions.eraseForProject(id);
  const edges = tx.edges.deleteForProject(id);
  const nodes = tx.nodes.eraseProjectNodes(id);
  return tx.projects.erase(id) ? { nodes, edges } : undefined;
}

export async function eraseNode(
  deps: GraphDeps,
  tenantDb: TenantDb,
  principal: Principal,
  nodeId: string,
  reason: string,
): Promise<NodeErasure> {
  const { node } = nodeAccess(tenantDb, principal, nodeId);
  requireTenantAdmin(principal, "erase content");
  const erased = await tenantDb.erase((tx) => {
    // Checked again inside the transaction: a restore or another erasure may have come first.
    const current = tx.nodes.get(nodeId);
    if (!current) throw new DomainError("not-found", "no such node");
    if (current.archivedAt === null)
      throw new DomainError(
        "conflict",
        "archive the node first (DELETE /api/nodes/:nodeId); only an archived node can be erased",
      );
    const done = eraseNodeRows(tx, nodeId);
    if (!done) throw new DomainError("not-found", "no such node");
    tx.audit({
      event: "node.erased",
      sensitivity: "security",
      severity: "warn",
      tenantId: tenantDb.tenantId,
      actor: actorOf(principal),
      payload: { nodeId, projectId: node.projectId, type: node.type, edgesErased: done.edges, reason },
    });
    return done;
  });
  await deps.erasures.contentErased(tenantDb.tenantId, "node", nodeId);
  return { nodeId, projectId: node.projectId, edgesErased: erased.edges };
}

export async function eraseProject(
  deps: GraphDeps,
  tenantDb: TenantDb,
  principal: Principal,
  projectId: string,
  reason: string,
): Promise<ProjectErasure> {
  projectAccess(tenantDb, principal, projectId);
  requireTenantAdmin(principal, "erase content");
  const erased = await tenantDb.erase((tx) => {
    const current = tx.projects.get(projectId);
    if (!current) throw new DomainError("not-found", "no such project");
    if (current.status !== "archived")
      throw new DomainError(
        "conflict",
        "archive the project first (DELETE /api/projects/:projectId); only an archived project can be erased",
      );
    const done = eraseProjectRows(tx, projectId);
    if (!done) throw new DomainError("not-found", "no such project");
    tx.audit({
      event: "project.erased",
      sensitivity: "security",
      severity: "warn",
      tenantId: tenantDb.tenantId,
      actor: actorOf(principal),
      payload: { projectId, nodesErased: done.nodes, edgesErased: done.edges, reason },
    });
    return done;
  });
  await deps.erasures.contentErased(tenantDb.tenantId, "project", projectId);
  return { projectId, nodesErased: erased.nodes, edgesErased: erased.edges };
}

export interface ErasedItem {
  readonly tenantId: string;
  readonly kind: "node" | "project";
  readonly id: string;
}

const RESTORE_ACTOR = { type: "system", id: "vecto backup restore" } as const;

/**
 * Erases one item in a transaction already open; false when it is not there (created after the backup, or gone with its
 * project or tenant).
 */
function eraseItemAgain(tx: TenantTx, item: ErasedItem, backupId: string): boolean {
  const base = { sensitivity: "security", severity: "warn", tenantId: item.tenantId, actor: RESTORE_ACTOR } as const;
  if (item.kind === "node") {
    const node = tx.nodes.get(item.id);
    const done = node ? eraseNodeRows(tx, item.id) : undefined;
    if (!node || !done) return false;
    tx.audit({
      ...base,
      event: "node.erased",
      payload: {
        nodeId: item.id,
        projectId: node.projectId,
        type: node.type,
        edgesErased: done.edges,
        erasedAgainAfterRestoreOf: backupId,
      },
    });
    return true;
  }
  const done = eraseProjectRows(tx, item.id);
  if (!done) return false;
  tx.audit({
    ...base,
    event: "project.erased",
    payload: {
      projectId: item.id,
      nodesErased: done.nodes,
      edgesErased: done.edges,
      erasedAgainAfterRestoreOf: backupId,
    },
  });
  return true;
}

/**
 * After a restore (src/backup/restore.ts): erases again, in the restored copy before it goes
 * live, the content this installation erased after the backup was taken, each with a new
 * tombstone naming the backup. Returns the items that were still there.
 */
export async function eraseContentAgain(
  db: Pick<Database, "write" | "checkpoint">,
  items: readonly ErasedItem[],
  backupId: string,
): Promise<ErasedItem[]> {
  const done = await db.write((tx) => items.filter((item) => eraseItemAgain(tx.tenant(item.tenantId), item, backupId)));
  db.checkpoint();
  return done;
}
