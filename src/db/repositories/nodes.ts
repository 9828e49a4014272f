/** Nodes of the graph. Every statement binds tenant_id; reads of one project also bind project_id. */
import type BetterSqlite3 from "better-sqlite3";
import type { NodeType, ReviewKind, ReviewVerdict } from "../../vocabulary/graph.js";
import { statement } from "../statements.js";

export interface NodeRecord {
  readonly id: string;
  readonly tenantId: string;
  readonly projectId: string;
  readonly type: NodeType;
  readonly status: string;
  readonly reviewKind: ReviewKind | null;
  readonly verdict: ReviewVerdict | null;
  readonly titleEnc: Uint8Array;
  readonly bodyEnc: Uint8Array;
  readonly authorType: "human" | "agent";
  readonly authorId: string;
  readonly version: number;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly archivedAt: string | null;
  /** A draft takes effect only when a human approves it (src/graph/drafts.ts). */
  readonly draft: boolean;
}

export interface NodeChanges {
  readonly status?: string;
  readonly reviewKind?: ReviewKind | null;
  readonly verdict?: ReviewVerdict | null;
  readonly titleEnc?: Uint8Array;
  readonly bodyEnc?: Uint8Array;
  readonly archivedAt?: string | null;
  /** Only ever false: a draft is approved, never made one again. */
  readonly draft?: false;
}

export interface NodeFilter {
  readonly type?: NodeType;
  readonly status?: string;
  readonly updatedSince?: string;
  readonly includeArchived: boolean;
  /** Only drafts (true) or only nodes in effect (false); undefined: both. */
  readonly draft?: boolean;
  /** Only nodes whose title has every one of these term hashes. */
  readonly terms?: readonly Uint8Array[];
  /** Keyset cursor: strictly after (updatedAt, id). */
  readonly after?: { readonly updatedAt: string; readonly id: string };
  readonly limit: number;
}

interface NodeRow {
  id: string;
  tenant_id: string;
  project_id: string;
  type: NodeType;
  status: string;
  review_kind: ReviewKind | null;
  verdict: ReviewVerdict | null;
  title_enc: Buffer;
  body_enc: Buffer;
  author_type: "human" | "agent";
  author_id: string;
  version: number;
  created_at: string;
  updated_at: string;
  archived_at: string | null;
  draft: 0 | 1;
}

const COLUMNS =
  "id, tenant_id, project_id, type, status, review_kind, verdict, title_enc, body_enc, author_type, " +
  "author_id, version, created_at, updated_at, archived_at, draft";

const LIST_SQL = `SELECT ${COLUMNS}
  FROM nodes n
  WHERE n.tenant_id = @tenantId AND n.project_id = @projectId
    AND (@type IS NULL OR n.type = @type)
    AND (@status IS NULL OR n.status = @status)
    AND (@updatedSince IS NULL OR n.updated_at >= @updatedSince)
    AND (@includeArchived = 1 OR n.archived_at IS NULL)
    AND (@draft IS NULL OR n.draft = @draft)
    AND (@afterUpdated IS NULL OR n.updated_at > @afterUpdated OR (n.updated_at = @afterUpdated AND n.id > @afterId))
    AND (@termCount = 0 OR n.id IN (
      SELECT t.node_id FROM node_terms t
      WHERE t.tenant_id = @tenantId AND t.term IN (SELECT unhex(value) FROM json_each(@terms))
      GROUP BY t.node_id HAVING count(*) = @termCount))
  ORDER BY n.updated_at, n.id
  LIMIT @limit`;

/** The blob better-sqlite3 returned (its own memory, never a pooled slice), seen as a plain Uint8Array, not copied. */
function bytes(blob: Buffer): Uint8Array {
  return new Uint8Array(blob.buffer, blob.byteOffset, blob.byteLength);
}

function toNode(row: NodeRow): NodeRecord {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    projectId: row.project_id,
    type: row.type,
    status: row.status,
    reviewKind: row.review_kind,
    verdict: row.verdict,
    titleEnc: bytes(row.title_enc),
    bodyEnc: bytes(row.body_enc),
    authorType: row.author_type,
    authorId: row.author_id,
    version: row.version,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    archivedAt: row.archived_at,
    draft: row.draft === 1,
  };
}

/** A node to insert: the repository adds its tenant; it is in effect unless `draft`. */
export type NewNode = Omit<NodeRecord, "tenantId" | "draft"> & { readonly draft?: boolean };

/** One tenant's nodes: the tenant id is bound at construction and in every statement. */
export class NodeRepository {
  /** What a read handle (TenantDb) may call. */
  static readonly reads = ["get", "getMany", "list"] as const;

  constructor(
    private readonly handle: BetterSqlite3.Database,
    readonly tenantId: string,
  ) {}

  get(id: string): NodeRecord | undefined {
    const row = statement<[string, string], NodeRow>(
      this.handle,
      `SELECT ${COLUMNS} FROM nodes WHERE tenant_id = ? AND id = ?`,
    ).get(this.tenantId, id);
    return row ? toNode(row) : undefined;
  }

  getMany(ids: readonly string[]): NodeRecord[] {
    if (ids.length === 0) return [];
    return statement<[string, string], NodeRow>(
      this.handle,
      `SELECT ${COLUMNS} FROM nodes WHERE +tenant_id = ? AND id IN (SELECT value FROM json_each(?))`,
    )
      .all(this.tenantId, JSON.stringify(ids))
      .map(toNode);
  }

  /**
   * One project's nodes, ordered by (updated_at, id): a stable order that also serves "changed
   * since" sync. One static statement with optional filters, so the tenancy check can read it.
   */
  list(projectId: string, filter: NodeFilter): NodeRecord[] {
    const terms = (filter.terms ?? []).map((t) => Buffer.from(t).toString("hex"));
    return statement<[Record<string, string | number | null>], NodeRow>(this.handle, LIST_SQL)
      .all({
        tenantId: this.tenantId,
        projectId,
        type: filter.type ?? null,
        status: filter.status ?? null,
        updatedSince: filter.updatedSince ?? null,
        includeArchived: filter.includeArchived ? 1 : 0,
        draft: filter.draft === undefined ? null : filter.draft ? 1 : 0,
        afterUpdated: filter.after?.updatedAt ?? null,
        afterId: filter.after?.id ?? "",
        terms: JSON.stringify(terms),
        termCount: terms.length,
        limit: filter.limit,
      })
      .map(toNode);
  }

  /** Inserts the node with the search terms of its title. */
  insert(node: NewNode, terms: readonly Uint8Array[]): void {
    statement(
      this.handle,
      `INSERT INTO nodes (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      node.id,
      this.tenantId,
      node.projectId,
      node.type,
      node.status,
      node.reviewKind,
      node.verdict,
      Buffer.from(node.titleEnc),
      Buffer.from(node.bodyEnc),
      node.authorType,
      node.authorId,
      node.version,
      node.createdAt,
      node.updatedAt,
      node.archivedAt,
      node.draft === true ? 1 : 0,
    );
    this.#insertTerms(node.id, terms);
  }

  /**
   * Applies the changes only if the stored version is `expectedVersion` (and replaces the search
   * terms when given); returns the row as the write left it (RETURNING), or undefined on a stale one.
   */
  update(
    id: string,
    expectedVersion: number,
    changes: NodeChanges,
    now: string,
    terms?: readonly Uint8Array[],
  ): NodeRecord | undefined {
    const current = this.get(id);
    if (!current || current.version !== expectedVersion) return undefined;
    const next = expectedVersion + 1;
    const written = statement<unknown[], NodeRow>(
      this.handle,
      "UPDATE nodes SET status = ?, review_kind = ?, verdict = ?, title_enc = ?, body_enc = ?, " +
        "archived_at = ?, draft = ?, version = ?, updated_at = ? " +
        `WHERE tenant_id = ? AND id = ? AND version = ? RETURNING ${COLUMNS}`,
    ).get(
      changes.status ?? current.status,
      changes.reviewKind !== undefined ? changes.reviewKind : current.reviewKind,
      changes.verdict !== undefined ? changes.verdict : current.verdict,
      Buffer.from(changes.titleEnc ?? current.titleEnc),
      Buffer.from(changes.bodyEnc ?? current.bodyEnc),
      changes.archivedAt !== undefined ? changes.archivedAt : current.archivedAt,
      (changes.draft ?? current.draft) ? 1 : 0,
      next,
      now,
      this.tenantId,
      id,
      expectedVersion,
    );
    if (written === undefined) return undefined;
    if (terms) this.#replaceTerms(id, terms);
    return toNode(written);
  }

  /**
   * Hard delete of one node: its search terms first, then the row (title and body ciphertext).
   * The terms would also go by ON DELETE CASCADE; deleting them by name keeps the erasure
   * complete whatever the schema says. Edges are the caller's (EdgeRepository.deleteTouching).
   */
  erase(id: string): boolean {
    statement(this.handle, "DELETE FROM node_terms WHERE tenant_id = ? AND node_id = ?").run(this.tenantId, id);
    return (
      statement(this.handle, "DELETE FROM nodes WHERE tenant_id = ? AND id = ?").run(this.tenantId, id).changes === 1
    );
  }

  /** Hard delete of every node of a project, search terms first; returns how many nodes went. */
  eraseProjectNodes(projectId: string): number {
    statement(
      this.handle,
      "DELETE FROM node_terms " +
        "WHERE tenant_id = ? AND node_id IN (SELECT id " +
        "FROM nodes WHERE tenant_id = ? AND project_id = ?)",
    ).run(this.tenantId, this.tenantId, projectId);
    return statement(this.handle, "DELETE FROM nodes WHERE tenant_id = ? AND project_id = ?").run(
      this.tenantId,
      projectId,
    ).changes;
  }

  #replaceTerms(nodeId: string, terms: readonly Uint8Array[]): void {
    statement(this.handle, "DELETE FROM node_terms WHERE tenant_id = ? AND node_id = ?").run(this.tenantId, nodeId);
    this.#insertTerms(nodeId, terms);
  }

  /** A new node's terms (it has none yet: nothing to delete first). */
  #insertTerms(nodeId: string, terms: readonly Uint8Array[]): void {
    const insert = statement(
      this.handle,
      "INSERT OR IGNORE INTO node_terms (tenant_id, term, node_id) VALUES (?, ?, ?)",
    );
    for (const term of terms) insert.run(this.tenantId, Buffer.from(term), nodeId);
  }
}
