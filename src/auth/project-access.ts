/**
 * Who may enter a project, and what they may do there: a tenant admin reaches every project of
 * its tenant; anyone else only as a member, the project role capping what it may do (editor
 * writes, viewer reads); a project-restricted token reaches its one project and nothing else. A
 * project one may not enter is reported as not found, never as forbidden: its existence is not
 * revealed. An access rule, so it sits with identity: the graph (src/graph) and personal tokens
 * restricted to a project (self-service.ts) both ask it.
 */
import type { ProjectRecord, ProjectRole } from "../db/repositories/projects.js";
import type { TenantDb } from "../db/tenant-db.js";
import { DomainError } from "../errors.js";
import type { Principal } from "./principal.js";

export type ProjectStanding = "admin" | ProjectRole;

export interface ProjectAccess {
  readonly project: ProjectRecord;
  readonly standing: ProjectStanding;
  readonly canWrite: boolean;
}

const NOT_FOUND = "no such project";

/** What the principal may do in the project; not-found when it may not see it at all. */
export function projectAccess(tenantDb: TenantDb, principal: Principal, projectId: string): ProjectAccess {
  const project = tenantDb.projects.get(projectId);
  if (!project || (principal.projectId !== null && principal.projectId !== projectId))
    throw new DomainError("not-found", NOT_FOUND);
  const writer = principal.scopes.has("graph:write");
  if (principal.role === "tenant_admin") return { project, standing: "admin", canWrite: writer };
  const membership = tenantDb.projects.membership(projectId, principal.userId);
  if (!membership || !principal.scopes.has("graph:read")) throw new DomainError("not-found", NOT_FOUND);
  return { project, standing: membership.role, canWrite: writer && membership.role === "editor" };
}
