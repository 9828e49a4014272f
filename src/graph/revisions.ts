/**
 * What a node held before an agent changed it: kept so that a person can undo an agent's edit
 * (Delegate and Automate act without asking; docs/agents.md, "Undoing what an agent did"). Only
 * agents' changes leave a revision: a person's edit is a rectification and keeps no copy of what
 * it corrected. Title and body are sealed under the revision's own row, like the node's.
 */
import { randomUUID } from "node:crypto";
import type { Principal } from "../auth/principal.js";
import type { NodeRecord } from "../db/repositories/nodes.js";
import type { NodeRevisionRecord } from "../db/repositories/node-revisions.js";
import type { TenantDb } from "../db/tenant-db.js";
import type { ReviewKind, ReviewVerdict } from "../vocabulary/graph.js";
import { accessWithin, type GraphDeps } from "./projects.js";

export const MAX_REVISIONS_LISTED = 100;

/** A revision ready to insert in the write that replaces it (the write adds its time). */
export type SealedRevision = Omit<NodeRevisionRecord, "tenantId" | "changedAt">;

export interface RevisionView {
  readonly id: string;
  readonly nodeId: string;
  readonly version: number;
  readonly status: string;
  readonly reviewKind: ReviewKind | null;
  readonly verdict: ReviewVerdict | null;
  readonly title: string;
  readonly body: string;
  readonly changedBy: string;
  readonly changedAt: string;
}

const ref = (id: string, column: "title" | "body") => ({ table: "node_revisions", column, rowId: id });
const nodeRef = (id: string, column: "title" | "body") => ({ table: "nodes", column, rowId: id });

/** The node as it stands, re-sealed under a new revision row (a sealed field is bound to its row). */
export async function sealRevision(deps: GraphDeps, node: NodeRecord, changedBy: string): Promise<SealedRevision> {
  const id = randomUUID();
  const title = await deps.crypto.decryptField(node.tenantId, nodeRef(node.id, "title"), node.titleEnc);
  const body = await deps.crypto.decryptField(node.tenantId, nodeRef(node.id, "body"), node.bodyEnc);
  return {
    id,
    projectId: node.projectId,
    nodeId: node.id,
    version: node.version,
    status: node.status,
    reviewKind: node.reviewKind,
    verdict: node.verdict,
    titleEnc: await deps.crypto.encryptField(node.tenantId, ref(id, "title"), title),
    bodyEnc: await deps.crypto.encryptField(node.tenantId, ref(id, "body"), body),
    changedBy,
  };
}

/** A node's revisions, newest first: what it held before each change an agent made. */
export async function listRevisions(
  deps: GraphDeps,
  tenantDb: TenantDb,
  principal: Principal,
  nodeId: string,
): Promise<RevisionView[]> {
  accessWithin(tenantDb, principal, tenantDb.nodes.get(nodeId), "node");
  return Promise.all(
    tenantDb.nodeRevisions.forNode(nodeId, MAX_REVISIONS_LISTED).map(async (r) => ({
      id: r.id,
      nodeId: r.nodeId,
      version: r.version,
      status: r.status,
      reviewKind: r.reviewKind,
      verdict: r.verdict,
      title: await deps.crypto.decryptField(r.tenantId, ref(r.id, "title"), r.titleEnc),
      body: await deps.crypto.decryptField(r.tenantId, ref(r.id, "body"), r.bodyEnc),
      changedBy: r.changedBy,
      changedAt: r.changedAt,
    })),
  );
}
