/**
 * What a node held before an agent changed it (src/graph/revisions.ts). Title and body stay sealed
 * as the caller sealed them; every statement binds tenant_id.
 */
import type BetterSqlite3 from "better-sqlite3";
import type { ReviewKind, ReviewVerdict } from "../../vocabulary/graph.js";
import { statement } from "../statements.js";

export interface NodeRevisionRecord {
  readonly id: string;
  readonly tenantId: string;
  readonly projectId: string;
  readonly nodeId: string;
  /** The node's version that held this content. */
  readonly version: number;
  readonly status: string;
  readonly reviewKind: ReviewKind | null;
  readonly verdict: ReviewVerdict | null;
  readonly titleEnc: Uint8Array;
  readonly bodyEnc: Uint8Array;
  /** The agent whose change replaced it, and when. */
  readonly changedBy: string;
  readonly changedAt: string;
}

interface Row {
  id: string;
  tenant_id: string;
  project_id: string;
  node_id: string;
  version: number;
  status: string;
  review_kind: ReviewKind | null;
  verdict: ReviewVerdict | null;
  title_enc: Buffer;
  body_enc: Buffer;
  changed_by: string;
  changed_at: string;
}

const COLUMNS =
  "id, tenant_id, project_id, node_id, version, status, review_kind, verdict, title_enc, body_enc, changed_by, changed_at";

const bytes = (blob: Buffer): Uint8Array => new Uint8Array(blob.buffer, blob.byteOffset, blob.byteLength);

function toRecord(row: Row): NodeRevisionRecord {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    projectId: row.project_id,
    nodeId: row.node_id,
    version: row.version,
    status: row.status,
    reviewKind: row.review_kind,
    verdict: row.verdict,
    titleEnc: bytes(row.title_enc),
    bodyEnc: bytes(row.body_enc),
    changedBy: row.changed_by,
    changedAt: row.changed_at,
  };
}

/** One tenant's node revisions: the tenant id is bound at construction and in every statement. */
export class NodeRevisionRepository {
  /** What a read handle (TenantDb) may call. */
  static readonly reads = ["forNode"] as const;

  constructor(
    private readonly handle: BetterSqlite3.Database,
    readonly tenantId: string,
  ) {}

  /** A node's revisions, newest first (at most `limit`). */
  forNode(nodeId: string, limit: number): NodeRevisionRecord[] {
    return statement<[string, string, number], Row>(
      this.handle,
      `SELECT ${COLUMNS} FROM node_revisions WHERE tenant_id = ? AND node_id = ? ORDER BY version DESC LIMIT ?`,
    )
      .all(this.tenantId, nodeId, limit)
      .map(toRecord);
  }

  insert(revision: Omit<NodeRevisionRecord, "tenantId">): void {
    statement(this.handle, `INSERT INTO node_revisions (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(
      revision.id,
      this.tenantId,
      revision.projectId,
      revision.nodeId,
      revision.version,
      revision.status,
      revision.reviewKind,
      revision.verdict,
      Buffer.from(revision.titleEnc),
      Buffer.from(revision.bodyEnc),
      revision.changedBy,
      revision.changedAt,
    );
  }

  /** Hard delete of a node's revisions (its erasure); returns how many went. */
  eraseForNode(nodeId: string): number {
    return statement(this.handle, "DELETE FROM node_revisions WHERE tenant_id = ? AND node_id = ?").run(
      this.tenantId,
      nodeId,
    ).changes;
  }

  /** Hard delete of every revision of a project's nodes (its erasure); returns how many went. */
  eraseForProject(projectId: string): number {
    return statement(this.handle, "DELETE FROM node_revisions WHERE tenant_id = ? AND project_id = ?").run(
      this.tenantId,
      projectId,
    ).changes;
  }
}
