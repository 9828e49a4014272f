/**
 * One tenant's view of the database. Every method binds this handle's tenant id; the
 * repositories it calls bind it in SQL (test/unit/db/tenancy.test.ts checks every statement).
 */
import type { PersonalTokenRecord, PersonalTokenRepository } from "./personal-tokens.js";
import type { EdgeRecord, EdgeRepository, TraceStep } from "./edges.js";
import type { NodeChanges, NodeFilter, NodeRecord, NodeRepository } from "./nodes.js";
import type { EdgeType } from "../vocabulary/graph.js";
import type { MemberRecord, ProjectRecord, ProjectRepository } from "./projects.js";
import type { SecretRecord, SecretRepository, SecretRotation } from "./secrets.js";
import type { SessionRepository } from "./sessions.js";
import type { PasswordResetRecord, PasswordResetRepository } from "./password-resets.js";
import { type Tenant, type TenantRepository } from "./tenants.js";
import type { UserChanges, UserRecord, UserRepository } from "./users.js";
import type { Role } from "../vocabulary/roles.js";

interface TenantRepositories {
  readonly tenants: TenantRepository;
  readonly nodes: NodeRepository;
  readonly edges: EdgeRepository;
  readonly projects: ProjectRepository;
  readonly users: UserRepository;
  readonly sessions: SessionRepository;
  readonly personalTokens: PersonalTokenRepository;
  readonly secrets: SecretRepository;
  readonly passwordResets: PasswordResetRepository;
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

  pseudonymiseUser(id: string, profile: Pick<UserRecord, "emailLookup" | "emailEnc" | "nameEnc">): boolean {
    return this.repos.users.pseudonymise(this.tenantId, id, profile, this.now);
  }

  deleteUser(id: string): boolean {
    return this.repos.users.delete(this.tenantId, id);
  }

  insertNode(node: Omit<NodeRecord, "tenantId">, terms: readonly Uint8Array[]): void {
    this.repos.nodes.insert({ ...node, tenantId: this.tenantId });
    this.repos.nodes.replaceTerms(this.tenantId, node.id, terms);
  }

  /** The new version, or undefined when `expectedVersion` is stale. */
  updateNode(id: string, expectedVersion: number, changes: NodeChanges, terms?: readonly Uint8Array[]): number | undefined {
    const version = this.repos.nodes.update(this.tenantId, id, expectedVersion, changes, this.now);
    if (version !== undefined && terms) this.repos.nodes.replaceTerms(this.tenantId, id, terms);
    return version;
  }

  /** Hard delete: the node's edges, search terms and row. Undefined when there was no such node. */
  eraseNode(id: string): { edges: number } | undefined {
    const edges = this.repos.edges.deleteTouching(this.tenantId, id);
    return this.repos.nodes.erase(this.tenantId, id) ? { edges } : undefined;
  }

  /** Hard delete: a project's edges, nodes (with their search terms), memberships and row. Undefined when there was no such project. */
  eraseProject(id: string): { nodes: number; edges: number } | undefined {
    const edges = this.repos.edges.deleteForProject(this.tenantId, id);
    const nodes = this.repos.nodes.eraseProjectNodes(this.tenantId, id);
    return this.repos.projects.erase(this.tenantId, id) ? { nodes, edges } : undefined;
  }

  insertEdge(edge: Omit<EdgeRecord, "tenantId">): void {
    this.repos.edges.insert({ ...edge, tenantId: this.tenantId });
  }

  deleteEdge(id: string): boolean {
    return this.repos.edges.delete(this.tenantId, id);
  }

  /** Reads inside the transaction (e.g. the cycle check right before an insert). */
  edgePathExists(type: EdgeType, start: string, target: string, maxDepth: number): boolean {
    return this.repos.edges.reachable(this.tenantId, type, start, target, maxDepth);
  }

  findEdge(type: EdgeType, fromId: string, toId: string): EdgeRecord | undefined {
    return this.repos.edges.find(this.tenantId, type, fromId, toId);
  }

  node(id: string): NodeRecord | undefined {
    return this.repos.nodes.get(this.tenantId, id);
  }

  insertPersonalToken(token: Omit<PersonalTokenRecord, "tenantId">): void {
    this.repos.personalTokens.insert({ ...token, tenantId: this.tenantId });
  }

  revokePersonalToken(userId: string, tokenId: string): boolean {
    return this.repos.personalTokens.revoke(this.tenantId, userId, tokenId, this.now);
  }

  project(id: string): ProjectRecord | undefined {
    return this.repos.projects.get(this.tenantId, id);
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

  /** Read inside the transaction, so a uniqueness check and the insert after it cannot race. */
  secret(name: string): SecretRecord | undefined {
    return this.repos.secrets.get(this.tenantId, name);
  }

  insertSecret(secret: Omit<SecretRecord, "tenantId">): void {
    this.repos.secrets.insert({ ...secret, tenantId: this.tenantId });
  }

  /** The new version, or undefined when the row is gone or `expectedVersion` is stale. */
  rotateSecret(id: string, expectedVersion: number | undefined, rotation: SecretRotation): number | undefined {
    return this.repos.secrets.rotate(this.tenantId, id, expectedVersion, rotation, this.now);
  }

  /** The deleted secret, or undefined when there was none of that name. */
  deleteSecret(name: string): SecretRecord | undefined {
    return this.repos.secrets.delete(this.tenantId, name);
  }

  /** Ends every session and token of a user, and a pending password reset: disable, role change and delete take effect at once. */
  revokeUserCredentials(userId: string, reason: string): void {
    this.repos.sessions.revokeAllForUser(this.tenantId, userId, reason, this.now);
    this.repos.personalTokens.revokeAllForUser(this.tenantId, userId, this.now);
    this.repos.passwordResets.deleteForUser(this.tenantId, userId);
  }

  /** A new one-time reset for the user, replacing any earlier one. */
  replacePasswordReset(reset: Omit<PasswordResetRecord, "tenantId">): void {
    this.repos.passwordResets.replace({ ...reset, tenantId: this.tenantId });
  }

}

/**
 * One tenant's changes inside a platform transaction, for system work that no request scopes:
 * a restore erasing again, in the restored copy, content erased after the backup was taken.
 */
export function tenantTxWithin(tx: ConstructorParameters<typeof TenantTx>[0] & { readonly now: string }, tenantId: string): TenantTx {
  return new TenantTx(tx, tenantId, tx.now);
}

export class TenantDb {
  constructor(
    private readonly repos: TenantRepositories,
    readonly tenantId: string,
    private readonly transact: <T>(fn: () => T) => T,
    private readonly now: () => string,
    /** Folds the WAL into the database file (Database.checkpoint). */
    private readonly foldWal: () => void,
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

  node(id: string): NodeRecord | undefined {
    return this.repos.nodes.get(this.tenantId, id);
  }

  nodes(ids: readonly string[]): NodeRecord[] {
    return this.repos.nodes.getMany(this.tenantId, ids);
  }

  listNodes(projectId: string, filter: NodeFilter): NodeRecord[] {
    return this.repos.nodes.list(this.tenantId, projectId, filter);
  }

  edge(id: string): EdgeRecord | undefined {
    return this.repos.edges.get(this.tenantId, id);
  }

  edgesTouching(nodeIds: readonly string[]): EdgeRecord[] {
    return this.repos.edges.touching(this.tenantId, nodeIds);
  }

  listEdges(projectId: string, after: string | undefined, limit: number): EdgeRecord[] {
    return this.repos.edges.listForProject(this.tenantId, projectId, after, limit);
  }

  trace(start: string, viaTo: readonly EdgeType[], viaFrom: readonly EdgeType[], maxDepth: number, maxNodes: number, includeArchived = false): TraceStep[] {
    return this.repos.edges.trace(this.tenantId, start, viaTo, viaFrom, maxDepth, maxNodes, includeArchived);
  }

  project(id: string): ProjectRecord | undefined {
    return this.repos.projects.get(this.tenantId, id);
  }

  /** Every project, archived ones included unless `includeArchived` is false. */
  listProjects(after: string | undefined, limit: number, includeArchived = true): ProjectRecord[] {
    return this.repos.projects.list(this.tenantId, after, limit, includeArchived);
  }

  listProjectsOf(userId: string, after: string | undefined, limit: number, includeArchived = true): ProjectRecord[] {
    return this.repos.projects.listForMember(this.tenantId, userId, after, limit, includeArchived);
  }

  membership(projectId: string, userId: string): MemberRecord | undefined {
    return this.repos.projects.membership(this.tenantId, projectId, userId);
  }

  projectMembers(projectId: string): MemberRecord[] {
    return this.repos.projects.members(this.tenantId, projectId);
  }

  secret(name: string): SecretRecord | undefined {
    return this.repos.secrets.get(this.tenantId, name);
  }

  listSecrets(after: string | undefined, limit: number): SecretRecord[] {
    return this.repos.secrets.list(this.tenantId, after, limit);
  }

  /** The single write path for this tenant's changes. */
  async write<T>(fn: (tx: TenantTx) => T): Promise<T> {
    return this.transact(() => fn(new TenantTx(this.repos, this.tenantId, this.now())));
  }

  /**
   * The write path of a hard delete: once it commits, the WAL is folded into the database file
   * and truncated, so no page image of the deleted rows stays in the WAL (secure_delete has
   * already zeroed them in the pages; src/db/sqlite.ts).
   */
  async erase<T>(fn: (tx: TenantTx) => T): Promise<T> {
    const result = await this.write(fn);
    this.foldWal();
    return result;
  }
}
