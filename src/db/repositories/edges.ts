/** Edges of the graph, and the recursive queries over them (cycle check, chain of custody). */
import type BetterSqlite3 from "better-sqlite3";
import type { EdgeType } from "../../vocabulary/graph.js";
import { statement } from "../statements.js";

export interface EdgeRecord {
  readonly id: string;
  readonly tenantId: string;
  readonly projectId: string;
  readonly type: EdgeType;
  readonly fromId: string;
  readonly toId: string;
  readonly createdBy: string;
  /** Whether a person or an agent made the edge. */
  readonly createdByType: "human" | "agent";
  readonly createdAt: string;
  /** A draft takes effect only when a human approves it (src/graph/drafts.ts). */
  readonly draft: boolean;
}

interface EdgeRow {
  id: string;
  tenant_id: string;
  project_id: string;
  type: EdgeType;
  from_id: string;
  to_id: string;
  created_by: string;
  created_by_type: "human" | "agent";
  created_at: string;
  draft: 0 | 1;
}

export interface TraceStep {
  readonly nodeId: string;
  readonly depth: number;
}

const COLUMNS = "id, tenant_id, project_id, type, from_id, to_id, created_by, created_by_type, created_at, draft";

function toEdge(row: EdgeRow): EdgeRecord {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    projectId: row.project_id,
    type: row.type,
    fromId: row.from_id,
    toId: row.to_id,
    createdBy: row.created_by,
    createdByType: row.created_by_type,
    createdAt: row.created_at,
    draft: row.draft === 1,
  };
}

/**
 * Is `target` reachable from `start` along edges of one type? (Adding start→target would then close a cycle when
 * reversed.)
 */
const REACHABLE_SQL = `WITH RECURSIVE reach(node_id, depth) AS (
    SELECT @start, 0
    UNION
    SELECT e.to_id, reach.depth + 1 FROM reach
      JOIN edges e ON e.tenant_id = @tenantId AND e.type = @type AND e.from_id = reach.node_id
    WHERE reach.depth < @maxDepth
  )
  SELECT 1 AS found FROM reach WHERE node_id = @target LIMIT 1`;

/**
 * The chain of custody upstream of a node: custody edges followed toward their upstream end
 * (to_id for most types, from_id for ships_in), breadth-first, bounded by depth. The joins are
 * pinned to the edge indexes (CROSS JOIN keeps the recursion outermost, INDEXED BY the index):
 * without planner statistics SQLite otherwise scans every custody edge of the tenant per step.
 * An archived node is neither reached nor walked through unless @includeArchived is 1 (its
 * primary-key lookup is the one extra step per edge). Drafts, edges or nodes, are not in effect:
 * never followed nor reached.
 */
const TRACE_SQL = `WITH RECURSIVE up(node_id, depth) AS (
    SELECT @start, 0
    UNION
    SELECT e.to_id, up.depth + 1 FROM up CROSS JOIN edges e INDEXED BY edges_from
      ON e.tenant_id = @tenantId AND e.from_id = up.node_id AND e.type IN (SELECT value FROM json_each(@viaTo))
        AND e.draft = 0
      CROSS JOIN nodes n ON n.id = e.to_id AND n.tenant_id = @tenantId
        AND (@includeArchived = 1 OR n.archived_at IS NULL) AND n.draft = 0
    WHERE up.depth < @maxDepth
    UNION
    SELECT e.from_id, up.depth + 1 FROM up CROSS JOIN edges e INDEXED BY edges_to
      ON e.tenant_id = @tenantId AND e.to_id = up.node_id AND e.type IN (SELECT value FROM json_each(@viaFrom))
        AND e.draft = 0
      CROSS JOIN nodes n ON n.id = e.from_id AND n.tenant_id = @tenantId
        AND (@includeArchived = 1 OR n.archived_at IS NULL) AND n.draft = 0
    WHERE up.depth < @maxDepth
  )
  SELECT node_id, min(depth) AS depth FROM up GROUP BY node_id ORDER BY depth, node_id LIMIT @maxNodes`;

/** Two indexed lookups joined, rather than one OR that the planner answers with a scan. */
const TOUCHING_SQL = `SELECT ${COLUMNS} FROM edges WHERE tenant_id = ? AND from_id IN (SELECT value FROM json_each(?))
  UNION
  SELECT ${COLUMNS} FROM edges WHERE tenant_id = ? AND to_id IN (SELECT value FROM json_each(?))
  ORDER BY created_at, id`;

/** One tenant's edges: the tenant id is bound at construction and in every statement. */
export class EdgeRepository {
  /** What a read handle (TenantDb) may call. */
  static readonly reads = ["get", "find", "touching", "listForProject", "reachable", "trace"] as const;

  constructor(
    private readonly handle: BetterSqlite3.Database,
    readonly tenantId: string,
  ) {}

  get(id: string): EdgeRecord | undefined {
    const row = statement<[string, string], EdgeRow>(
      this.handle,
      `SELECT ${COLUMNS} FROM edges WHERE tenant_id = ? AND id = ?`,
    ).get(this.tenantId, id);
    return row ? toEdge(row) : undefined;
  }

  find(type: EdgeType, fromId: string, toId: string): EdgeRecord | undefined {
    const row = statement<[string, EdgeType, string, string], EdgeRow>(
      this.handle,
      `SELECT ${COLUMNS} FROM edges WHERE tenant_id = ? AND type = ? AND from_id = ? AND to_id = ?`,
    ).get(this.tenantId, type, fromId, toId);
    return row ? toEdge(row) : undefined;
  }

  /** Edges touching any of the nodes (either end). */
  touching(nodeIds: readonly string[]): EdgeRecord[] {
    if (nodeIds.length === 0) return [];
    return statement<[string, string, string, string], EdgeRow>(this.handle, TOUCHING_SQL)
      .all(this.tenantId, JSON.stringify(nodeIds), this.tenantId, JSON.stringify(nodeIds))
      .map(toEdge);
  }

  /** A project's edges, keyset-paginated by id. */
  listForProject(projectId: string, after: string | undefined, limit: number): EdgeRecord[] {
    return statement<[string, string, string, number], EdgeRow>(
      this.handle,
      `SELECT ${COLUMNS} FROM edges WHERE tenant_id = ? AND project_id = ? AND id > ? ORDER BY id LIMIT ?`,
    )
      .all(this.tenantId, projectId, after ?? "", limit)
      .map(toEdge);
  }

  reachable(type: EdgeType, start: string, target: string, maxDepth: number): boolean {
    return (
      statement(this.handle, REACHABLE_SQL).get({ tenantId: this.tenantId, type, start, target, maxDepth }) !==
      undefined
    );
  }

  trace(
    start: string,
    viaTo: readonly EdgeType[],
    viaFrom: readonly EdgeType[],
    maxDepth: number,
    maxNodes: number,
    includeArchived = false,
  ): TraceStep[] {
    return statement<[Record<string, string | number>], { node_id: string; depth: number }>(this.handle, TRACE_SQL)
      .all({
        tenantId: this.tenantId,
        start,
        viaTo: JSON.stringify(viaTo),
        viaFrom: JSON.stringify(viaFrom),
        maxDepth,
        maxNodes,
        includeArchived: includeArchived ? 1 : 0,
      })
      .map((r) => ({ nodeId: r.node_id, depth: r.depth }));
  }

  /** The edge is in effect unless `draft`. */
  insert(edge: Omit<EdgeRecord, "tenantId" | "draft"> & { readonly draft?: boolean }): void {
    statement(this.handle, `INSERT INTO edges (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(
      edge.id,
      this.tenantId,
      edge.projectId,
      edge.type,
      edge.fromId,
      edge.toId,
      edge.createdBy,
      edge.createdByType,
      edge.createdAt,
      edge.draft === true ? 1 : 0,
    );
  }

  /** Makes a draft edge take effect; false when there is no such draft. */
  approve(id: string): boolean {
    return (
      statement(this.handle, "UPDATE edges SET draft = 0 WHERE tenant_id = ? AND id = ? AND draft = 1").run(
        this.tenantId,
        id,
      ).changes === 1
    );
  }

  delete(id: string): boolean {
    return (
      statement(this.handle, "DELETE FROM edges WHERE tenant_id = ? AND id = ?").run(this.tenantId, id).changes === 1
    );
  }

  /** Deletes every edge with the node at either end; returns how many went. */
  deleteTouching(nodeId: string): number {
    return statement(this.handle, "DELETE FROM edges WHERE tenant_id = ? AND (from_id = ? OR to_id = ?)").run(
      this.tenantId,
      nodeId,
      nodeId,
    ).changes;
  }

  /** Deletes every edge of a project (edges never cross projects); returns how many went. */
  deleteForProject(projectId: string): number {
    return statement(this.handle, "DELETE FROM edges WHERE tenant_id = ? AND project_id = ?").run(
      this.tenantId,
      projectId,
    ).changes;
  }
}
