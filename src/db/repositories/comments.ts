/** Comments on nodes. The body is sealed by the caller (src/graph/comments.ts); every statement binds tenant_id. */
import type BetterSqlite3 from "better-sqlite3";
import { statement } from "../statements.js";

export interface CommentRecord {
  readonly id: string;
  readonly tenantId: string;
  readonly projectId: string;
  readonly nodeId: string;
  readonly bodyEnc: Uint8Array;
  readonly authorType: "human" | "agent";
  readonly authorId: string;
  readonly createdAt: string;
}

interface Row {
  id: string;
  tenant_id: string;
  project_id: string;
  node_id: string;
  body_enc: Buffer;
  author_type: "human" | "agent";
  author_id: string;
  created_at: string;
}

const COLUMNS = "id, tenant_id, project_id, node_id, body_enc, author_type, author_id, created_at";

function toRecord(row: Row): CommentRecord {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    projectId: row.project_id,
    nodeId: row.node_id,
    bodyEnc: new Uint8Array(row.body_enc.buffer, row.body_enc.byteOffset, row.body_enc.byteLength),
    authorType: row.author_type,
    authorId: row.author_id,
    createdAt: row.created_at,
  };
}

/** One tenant's comments: the tenant id is bound at construction and in every statement. */
export class CommentRepository {
  /** What a read handle (TenantDb) may call. */
  static readonly reads = ["forNode"] as const;

  constructor(
    private readonly handle: BetterSqlite3.Database,
    readonly tenantId: string,
  ) {}

  /** A node's comments, oldest first, keyset-paginated by (created_at, id). */
  forNode(nodeId: string, after: { createdAt: string; id: string } | undefined, limit: number): CommentRecord[] {
    return statement<[string, string, string, string, string, number], Row>(
      this.handle,
      `SELECT ${COLUMNS} FROM comments WHERE tenant_id = ? AND node_id = ? ` +
        "AND (created_at > ? OR (created_at = ? AND id > ?)) ORDER BY created_at, id LIMIT ?",
    )
      .all(this.tenantId, nodeId, after?.createdAt ?? "", after?.createdAt ?? "", after?.id ?? "", limit)
      .map(toRecord);
  }

  insert(comment: Omit<CommentRecord, "tenantId">): void {
    statement(this.handle, `INSERT INTO comments (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`).run(
      comment.id,
      this.tenantId,
      comment.projectId,
      comment.nodeId,
      Buffer.from(comment.bodyEnc),
      comment.authorType,
      comment.authorId,
      comment.createdAt,
    );
  }

  /** Hard delete of a node's comments (its erasure); returns how many went. */
  eraseForNode(nodeId: string): number {
    return statement(this.handle, "DELETE FROM comments WHERE tenant_id = ? AND node_id = ?").run(this.tenantId, nodeId)
      .changes;
  }

  /** Hard delete of every comment of a project (its erasure); returns how many went. */
  eraseForProject(projectId: string): number {
    return statement(this.handle, "DELETE FROM comments WHERE tenant_id = ? AND project_id = ?").run(
      this.tenantId,
      projectId,
    ).changes;
  }
}
