/**
 * One tenant's view of the database. Every method binds this handle's tenant id; the
 * repositories it calls bind it in SQL (test/unit/db/tenancy.test.ts checks every statement).
 */
import type { PersonalTokenRecord, PersonalTokenRepository } from "./personal-tokens.js";
import type { MemberRecord, ProjectRecord, ProjectRepository } from "./projects.js";
import type { SessionRepository } from "./sessions.js";
import { type Tenant, type TenantRepository } from "./tenants.js";
import type { UserChanges, UserRecord, UserRepository } from "./users.js";
import type { Role } from "../auth/rbac.js";

interface TenantRepositories {
  readonly tenants: TenantRepository;
  readonly projects: ProjectRepository;
  readonly users: UserRepository;
  readonly sessions: SessionRepository;
  readonly personalTokens: PersonalTokenRepository;
}

/** Changes to one tenant's data, inside one transaction. */
export class TenantTx {
  constructor(
    private readonly repos: TenantRepositories,
    readonly tenantId: string,
    readonly now: string,
  ) {}

  insertUser(user: Omit<UserRecord, "tenantId">): void {
    this.repos.users.insert({ ...user, tenantId: this.tenantId });
  }

  updateUser(id: string, changes: UserChanges): boolean {
    return this.repos.users.update(this.tenantId, id, changes, this.now);
  }

  deleteUser(id: string): boolean {
    return this.repos.users.delete(this.tenantId, id);
  }

  insertPersonalToken(token: Omit<PersonalTokenRecord, "tenantId">): void {
    this.repos.personalTokens.insert({ ...token, tenantId: this.tenantId });
  }

  revokePersonalToken(userId: string, tokenId: string): boolean {
    return this.repos.personalTokens.revoke(this.tenantId, userId, tokenId, this.now);
  }

  insertProject(project: Omit<ProjectRecord, "tenantId">): void {
    this.repos.projects.insert({ ...project, tenantId: this.tenantId });
  }

  updateProject(id: string, changes: { nameEnc?: Uint8Array; status?: ProjectRecord["status"] }): boolean {
    return this.repos.projects.update(this.tenantId, id, changes, this.now);
  }

  putProjectMember(member: MemberRecord): void {
    this.repos.projects.putMember(this.tenantId, member);
  }

  removeProjectMember(projectId: string, userId: string): boolean {
    return this.repos.projects.removeMember(this.tenantId, projectId, userId);
  }

  /** Ends every session and token of a user: disable, role change and delete take effect at once. */
  revokeUserCredentials(userId: string, reason: string): void {
    this.repos.sessions.revokeAllForUser(this.tenantId, userId, reason, this.now);
    this.repos.personalTokens.revokeAllForUser(this.tenantId, userId, this.now);
  }

}

export class TenantDb {
  constructor(
    private readonly repos: TenantRepositories,
    readonly tenantId: string,
    private readonly transact: <T>(fn: () => T) => T,
    private readonly now: () => string,
  ) {}

  /** This tenant's own record. */
  tenant(): Tenant | undefined {
    return this.repos.tenants.get(this.tenantId);
  }

  user(id: string): UserRecord | undefined {
    return this.repos.users.get(this.tenantId, id);
  }

  listUsers(after: string | undefined, limit: number): UserRecord[] {
    return this.repos.users.list(this.tenantId, after, limit);
  }

  activeUsersWithRole(role: Role): number {
    return this.repos.users.countByRole(this.tenantId, role);
  }

  personalTokensOf(userId: string): PersonalTokenRecord[] {
    return this.repos.personalTokens.listForUser(this.tenantId, userId);
  }

  project(id: string): ProjectRecord | undefined {
    return this.repos.projects.get(this.tenantId, id);
  }

  listProjects(after: string | undefined, limit: number): ProjectRecord[] {
    return this.repos.projects.list(this.tenantId, after, limit);
  }

  listProjectsOf(userId: string, after: string | undefined, limit: number): ProjectRecord[] {
    return this.repos.projects.listForMember(this.tenantId, userId, after, limit);
  }

  membership(projectId: string, userId: string): MemberRecord | undefined {
    return this.repos.projects.membership(this.tenantId, projectId, userId);
  }

  projectMembers(projectId: string): MemberRecord[] {
    return this.repos.projects.members(this.tenantId, projectId);
  }

  /** The single write path for this tenant's changes. */
  async write<T>(fn: (tx: TenantTx) => T): Promise<T> {
    return this.transact(() => fn(new TenantTx(this.repos, this.tenantId, this.now())));
  }
}
