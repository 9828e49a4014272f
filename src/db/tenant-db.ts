/**
 * One tenant's view of the database. Every method binds this handle's tenant id; the
 * repositories it calls bind it in SQL (test/unit/db/tenancy.test.ts checks every statement).
 */
import type { PersonalTokenRepository } from "./personal-tokens.js";
import type { SessionRepository } from "./sessions.js";
import { type Tenant, type TenantRepository } from "./tenants.js";
import type { UserChanges, UserRecord, UserRepository } from "./users.js";
import type { Role } from "../auth/rbac.js";

interface TenantRepositories {
  readonly tenants: TenantRepository;
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

  /** The single write path for this tenant's changes. */
  async write<T>(fn: (tx: TenantTx) => T): Promise<T> {
    return this.transact(() => fn(new TenantTx(this.repos, this.tenantId, this.now())));
  }
}
