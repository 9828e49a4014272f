/**
 * Projects: creating, renaming, archiving, membership. Who may enter a project is an access rule
 * (src/auth/project-access.ts): a project one may not enter is reported as not found, never as
 * forbidden, so its existence is not revealed.
 */
import { randomUUID } from "node:crypto";
import type { EventSink } from "../audit/events.js";
import type { ErasureJournal } from "../vocabulary/erasure.js";
import { actorOf, type Principal } from "../auth/principal.js";
import { projectAccess, type ProjectAccess, type ProjectStanding } from "../auth/project-access.js";
import { refuseAgents } from "../auth/autonomy.js";
import type { CryptoService } from "../crypto/index.js";
import type { MemberRecord, ProjectRecord, ProjectRole } from "../db/repositories/projects.js";
import type { TenantDb } from "../db/tenant-db.js";
import { DomainError } from "../errors.js";

export interface GraphDeps {
  readonly crypto: CryptoService;
  readonly events: EventSink;
  /**
   * Records a node or project erasure next to the data and the backups once it committed
   * (src/backup/erasure-journal.ts).
   */
  readonly erasures: ErasureJournal;
}

export interface ProjectView {
  readonly id: string;
  readonly name: string;
  readonly status: ProjectRecord["status"];
  readonly createdBy: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** The caller's standing in the project. */
  readonly standing: ProjectStanding;
}

function nameRef(projectId: string): { table: string; column: string; rowId: string } {
  return { table: "projects", column: "name", rowId: projectId };
}

/**
 * Access to a thing inside a project (a node, an edge): whether the caller may change it, and
 * "no such <thing>" when the thing or its project is out of reach, so neither is revealed.
 */
export function accessWithin(
  tenantDb: TenantDb,
  principal: Principal,
  thing: { projectId: string } | undefined,
  what: string,
): boolean {
  if (!thing) throw new DomainError("not-found", `no such ${what}`);
  try {
    return projectAccess(tenantDb, principal, thing.projectId).canWrite;
  } catch (error) {
    if (error instanceof DomainError && error.kind === "not-found")
      throw new DomainError("not-found", `no such ${what}`);
    throw error;
  }
}

/**
 * Restoring archived content and erasing it are the tenant admin's: not a member's, not a project-restricted token's.
 */
export function requireTenantAdmin(principal: Principal, action: string): void {
  if (principal.role !== "tenant_admin" || principal.projectId !== null || !principal.scopes.has("tenant:admin"))
    throw new DomainError("forbidden", `only a tenant admin may ${action}`);
}

function writable(access: ProjectAccess): ProjectAccess {
  if (!access.canWrite) throw new DomainError("forbidden", "you may read this project but not change it");
  return access;
}

async function view(deps: GraphDeps, project: ProjectRecord, standing: ProjectStanding): Promise<ProjectView> {
  const name = await deps.crypto.decryptField(project.tenantId, nameRef(project.id), project.nameEnc);
  return {
    id: project.id,
    name,
    status: project.status,
    createdBy: project.createdBy,
    createdAt: project.createdAt,
    updatedAt: project.updatedAt,
    standing,
  };
}

/** The projects the caller may enter; archived ones only with `includeArchived`. */
export async function listProjects(
  deps: GraphDeps,
  tenantDb: TenantDb,
  principal: Principal,
  page: { after?: string | undefined; limit: number; includeArchived: boolean },
): Promise<ProjectView[]> {
  const { after, limit, includeArchived } = page;
  if (principal.projectId !== null) {
    if (after !== undefined && after >= principal.projectId) return [];
    try {
      const access = projectAccess(tenantDb, principal, principal.projectId);
      return access.project.status === "archived" && !includeArchived
        ? []
        : [await view(deps, access.project, access.standing)];
    } catch (error) {
      if (error instanceof DomainError && error.kind === "not-found") return [];
      throw error;
    }
  }
  if (principal.role === "tenant_admin")
    return Promise.all(tenantDb.projects.list(after, limit, includeArchived).map((p) => view(deps, p, "admin")));
  const projects = tenantDb.projects.listForMember(principal.userId, after, limit, includeArchived);
  return Promise.all(
    projects.map((p) => view(deps, p, tenantDb.projects.membership(p.id, principal.userId)?.role ?? "viewer")),
  );
}

export async function getProject(
  deps: GraphDeps,
  tenantDb: TenantDb,
  principal: Principal,
  projectId: string,
): Promise<ProjectView> {
  const access = projectAccess(tenantDb, principal, projectId);
  return view(deps, access.project, access.standing);
}

/** The creator becomes the project's first editor (a tenant admin needs no membership). */
export async function createProject(
  deps: GraphDeps,
  tenantDb: TenantDb,
  principal: Principal,
  input: { name: string },
): Promise<ProjectView> {
  if (principal.projectId !== null)
    throw new DomainError("forbidden", "a project-restricted token cannot create projects");
  const id = randomUUID();
  const nameEnc = await deps.crypto.encryptField(tenantDb.tenantId, nameRef(id), input.name);
  await tenantDb.write((tx) => {
    tx.projects.insert({
      id,
      nameEnc,
      status: "active",
      createdBy: principal.userId,
      createdAt: tx.now,
      updatedAt: tx.now,
    });
    if (principal.role !== "tenant_admin")
      tx.projects.putMember({ projectId: id, userId: principal.userId, role: "editor", addedAt: tx.now });
    tx.audit({
      event: "project.created",
      sensitivity: "normal",
      severity: "info",
      tenantId: tenantDb.tenantId,
      actor: actorOf(principal),
      payload: { projectId: id },
    });
  });
  return getProject(deps, tenantDb, principal, id);
}

/** The event a status change records: archiving (soft delete) or restoring; none when the status stays. */
function statusEvent(
  from: ProjectRecord["status"],
  to: ProjectRecord["status"] | undefined,
): "project.archived" | "project.restored" | undefined {
  if (to === undefined || to === from) return undefined;
  return to === "archived" ? "project.archived" : "project.restored";
}

/** Rename, archive (soft delete; writers) or restore (tenant admins only, like a node). */
export async function updateProject(
  deps: GraphDeps,
  tenantDb: TenantDb,
  principal: Principal,
  projectId: string,
  changes: { name?: string; status?: ProjectRecord["status"] },
): Promise<ProjectView> {
  // Agents work inside a project; renaming or archiving it is a person's call (docs/agents.md).
  refuseAgents(principal, "rename, archive or restore a project");
  const { project } = writable(projectAccess(tenantDb, principal, projectId));
  const statusChange = statusEvent(project.status, changes.status);
  if (statusChange === "project.restored") requireTenantAdmin(principal, "restore an archived project");
  const nameEnc =
    changes.name === undefined
      ? undefined
      : await deps.crypto.encryptField(tenantDb.tenantId, nameRef(projectId), changes.name);
  const actor = actorOf(principal);
  await tenantDb.write((tx) => {
    tx.projects.update(
      projectId,
      { ...(nameEnc ? { nameEnc } : {}), ...(changes.status ? { status: changes.status } : {}) },
      tx.now,
    );
    if (nameEnc || !statusChange)
      tx.audit({
        event: "project.updated",
        sensitivity: "normal",
        severity: "info",
        tenantId: tenantDb.tenantId,
        actor,
        payload: { projectId },
      });
    if (statusChange)
      tx.audit({
        event: statusChange,
        sensitivity: "normal",
        severity: "info",
        tenantId: tenantDb.tenantId,
        actor,
        payload: { projectId },
      });
  });
  return getProject(deps, tenantDb, principal, projectId);
}

export function listMembers(tenantDb: TenantDb, principal: Principal, projectId: string): MemberRecord[] {
  projectAccess(tenantDb, principal, projectId);
  return tenantDb.projects.members(projectId);
}

/** Tenant admins grant project roles; the user must belong to the same tenant. */
export async function setMember(
  deps: GraphDeps,
  tenantDb: TenantDb,
  principal: Principal,
  projectId: string,
  userId: string,
  role: ProjectRole,
): Promise<MemberRecord> {
  refuseAgents(principal, "change project memberships");
  projectAccess(tenantDb, principal, projectId);
  const user = tenantDb.users.get(userId);
  if (!user) throw new DomainError("not-found", "no such user");
  if (user.role === "tenant_admin") throw new DomainError("rejected", "tenant admins reach every project already");
  await tenantDb.write((tx) => {
    tx.projects.putMember({ projectId, userId, role, addedAt: tx.now });
    tx.audit({
      event: "project.member_set",
      sensitivity: "security",
      severity: "info",
      tenantId: tenantDb.tenantId,
      actor: actorOf(principal),
      payload: { projectId, userId, role },
      notify: { userIds: [userId], message: `You now have ${role} access to project ${projectId}.` },
    });
  });
  const member = tenantDb.projects.membership(projectId, userId);
  if (!member) throw new Error("membership vanished after write");
  return member;
}

export async function removeMember(
  deps: GraphDeps,
  tenantDb: TenantDb,
  principal: Principal,
  projectId: string,
  userId: string,
): Promise<void> {
  refuseAgents(principal, "change project memberships");
  projectAccess(tenantDb, principal, projectId);
  await tenantDb.write((tx) => {
    if (!tx.projects.removeMember(projectId, userId)) throw new DomainError("not-found", "no such member");
    tx.audit({
      event: "project.member_removed",
      sensitivity: "security",
      severity: "info",
      tenantId: tenantDb.tenantId,
      actor: actorOf(principal),
      payload: { projectId, userId },
    });
  });
}
