/** Projects and memberships. Every statement binds tenant_id. */
import type BetterSqlite3 from "better-sqlite3";
import { statement } from "../statements.js";

export type ProjectRole = "editor" | "viewer";

export interface ProjectRecord {
  readonly id: string;
  readonly tenantId: string;
  readonly nameEnc: Uint8Array;
  readonly status: "active" | "archived";
  readonly createdBy: string;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface MemberRecord {
  readonly projectId: string;
  readonly userId: string;
  readonly role: ProjectRole;
  readonly addedAt: string;
}

interface ProjectRow {
  id: string;
  tenant_id: string;
  name_enc: Buffer;
  status: "active" | "archived";
  created_by: string;
  created_at: string;
  updated_at: string;
}

interface MemberRow {
  project_id: string;
  user_id: string;
  role: ProjectRole;
  added_at: string;
}

const COLUMNS = "id, tenant_id, name_enc, status, created_by, created_at, updated_at";

function toProject(row: ProjectRow): ProjectRecord {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    nameEnc: new Uint8Array(row.name_enc),
    status: row.status,
    createdBy: row.created_by,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function toMember(row: MemberRow): MemberRecord {
  return { projectId: row.project_id, userId: row.user_id, role: row.role, addedAt: row.added_at };
}

/** One tenant's projects and memberships: the tenant id is bound at construction and in every statement. */
export class ProjectRepository {
  /** What a read handle (TenantDb) may call. */
  static readonly reads = ["get", "list", "listForMember", "membership", "members"] as const;

  constructor(
    private readonly handle: BetterSqlite3.Database,
    readonly tenantId: string,
  ) {}

  get(id: string): ProjectRecord | undefined {
    const row = statement<[string, string], ProjectRow>(
      this.handle,
      `SELECT ${COLUMNS} FROM projects WHERE tenant_id = ? AND id = ?`,
    ).get(this.tenantId, id);
    return row ? toProject(row) : undefined;
  }

  /** The tenant's projects, keyset-paginated by id; archived ones only when asked for. */
  list(after: string | undefined, limit: number, includeArchived = true): ProjectRecord[] {
    return statement<[string, string, number, number], ProjectRow>(
      this.handle,
      `SELECT ${COLUMNS} FROM projects ` +
        `WHERE tenant_id = ? AND id > ? AND (? = 1 OR status = 'active') ORDER BY id LIMIT ?`,
    )
      .all(this.tenantId, after ?? "", includeArchived ? 1 : 0, limit)
      .map(toProject);
  }

  /** The projects a user is a member of, keyset-paginated by id; archived ones only when asked for. */
  listForMember(userId: string, after: string | undefined, limit: number, includeArchived = true): ProjectRecord[] {
    return statement<[string, string, string, number, number], ProjectRow>(
      this.handle,
      `SELECT p.id, p.tenant_id, p.name_enc, p.status, p.created_by, p.created_at, p.updated_at
         FROM projects p JOIN project_members m ON m.tenant_id = p.tenant_id AND m.project_id = p.id
         WHERE p.tenant_id = ? AND m.user_id = ? AND p.id > ? AND (? = 1 OR p.status = 'active') ORDER BY p.id LIMIT ?`,
    )
      .all(this.tenantId, userId, after ?? "", includeArchived ? 1 : 0, limit)
      .map(toProject);
  }

  insert(project: Omit<ProjectRecord, "tenantId">): void {
    statement(this.handle, `INSERT INTO projects (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)`).run(
      project.id,
      this.tenantId,
      Buffer.from(project.nameEnc),
      project.status,
      project.createdBy,
      project.createdAt,
      project.updatedAt,
    );
  }

  update(id: string, changes: { nameEnc?: Uint8Array; status?: ProjectRecord["status"] }, now: string): boolean {
    const current = this.get(id);
    if (!current) return false;
    return (
      statement(
        this.handle,
        "UPDATE projects SET name_enc = ?, status = ?, updated_at = ? WHERE tenant_id = ? AND id = ?",
      ).run(Buffer.from(changes.nameEnc ?? current.nameEnc), changes.status ?? current.status, now, this.tenantId, id)
        .changes === 1
    );
  }

  membership(projectId: string, userId: string): MemberRecord | undefined {
    const row = statement<[string, string, string], MemberRow>(
      this.handle,
      "SELECT project_id, user_id, role, added_at " +
        "FROM project_members " +
        "WHERE tenant_id = ? AND project_id = ? AND user_id = ?",
    ).get(this.tenantId, projectId, userId);
    return row ? toMember(row) : undefined;
  }

  members(projectId: string): MemberRecord[] {
    return statement<[string, string], MemberRow>(
      this.handle,
      "SELECT project_id, user_id, role, added_at " +
        "FROM project_members " +
        "WHERE tenant_id = ? AND project_id = ? ORDER BY added_at, user_id",
    )
      .all(this.tenantId, projectId)
      .map(toMember);
  }

  /**
   * Adds a member or changes its role. The conflict target is (project_id, user_id) alone, so the
   * update binds the tenant too: another tenant naming this project and user changes nothing.
   */
  putMember(member: MemberRecord): void {
    statement(
      this.handle,
      "INSERT INTO project_members (tenant_id, project_id, user_id, role, added_at) " +
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (project_id, user_id) DO UPDATE " +
        "SET role = excluded.role " +
        "WHERE project_members.tenant_id = excluded.tenant_id",
    ).run(this.tenantId, member.projectId, member.userId, member.role, member.addedAt);
  }

  /** Hard delete of the project row and its memberships (its nodes and edges go first, through their repositories). */
  erase(id: string): boolean {
    statement(this.handle, "DELETE FROM project_members WHERE tenant_id = ? AND project_id = ?").run(this.tenantId, id);
    return (
      statement(this.handle, "DELETE FROM projects WHERE tenant_id = ? AND id = ?").run(this.tenantId, id).changes === 1
    );
  }

  removeMember(projectId: string, userId: string): boolean {
    return (
      statement(this.handle, "DELETE FROM project_members WHERE tenant_id = ? AND project_id = ? AND user_id = ?").run(
        this.tenantId,
        projectId,
        userId,
      ).changes === 1
    );
  }
}
