/**
 * Every repository of one tenant's data, named once. Each is constructed per tenant with the
 * tenant id bound (`new NodeRepository(handle, tenantId)`) and binds it in every statement
 * (test/unit/db/tenancy.test.ts reads them all); each class lists the methods a read handle may
 * call in its static `reads`.
 *
 * A tenant's door (tenant-db.ts) is built from this registry: `TenantDb` shows the `reads` of
 * each, `TenantTx` (inside a write) the whole repository. A new tenant-owned table is one line
 * here next to its migration and repository file.
 */
import type BetterSqlite3 from "better-sqlite3";
import { AiCallRepository } from "./repositories/ai-calls.js";
import { AiSettingsRepository } from "./repositories/ai-settings.js";
import { AuditLogRepository } from "./repositories/audit-log.js";
import { AutonomyRuleRepository } from "./repositories/autonomy-rules.js";
import { CommentRepository } from "./repositories/comments.js";
import { EdgeRepository } from "./repositories/edges.js";
import { NodeRepository } from "./repositories/nodes.js";
import { NodeRevisionRepository } from "./repositories/node-revisions.js";
import { NotificationRepository } from "./repositories/notifications.js";
import { PasswordResetRepository } from "./repositories/password-resets.js";
import { PersonalTokenRepository } from "./repositories/personal-tokens.js";
import { ProjectRepository } from "./repositories/projects.js";
import { SealedFieldRepository } from "./repositories/sealed-fields.js";
import { SecretRepository } from "./repositories/secrets.js";
import { SessionRepository } from "./repositories/sessions.js";
import { SigningKeyRepository } from "./repositories/signing-keys.js";
import { OwnTenantRepository } from "./repositories/tenants.js";
import { TenantUsageRepository } from "./repositories/usage-counts.js";
import { UserRepository } from "./repositories/users.js";

/** What a tenant repository class looks like: built for one tenant, with the names of its reads. */
interface TenantRepositoryClass {
  new (handle: BetterSqlite3.Database, tenantId: string): object;
  readonly reads: readonly string[];
}

export const TENANT_REPOSITORIES = {
  tenant: OwnTenantRepository,
  users: UserRepository,
  sessions: SessionRepository,
  personalTokens: PersonalTokenRepository,
  signingKeys: SigningKeyRepository,
  passwordResets: PasswordResetRepository,
  projects: ProjectRepository,
  nodes: NodeRepository,
  edges: EdgeRepository,
  comments: CommentRepository,
  nodeRevisions: NodeRevisionRepository,
  autonomyRules: AutonomyRuleRepository,
  secrets: SecretRepository,
  notifications: NotificationRepository,
  auditLog: AuditLogRepository,
  usage: TenantUsageRepository,
  sealedFields: SealedFieldRepository,
  aiSettings: AiSettingsRepository,
  aiCalls: AiCallRepository,
} as const satisfies Record<string, TenantRepositoryClass>;

type Registry = typeof TENANT_REPOSITORIES;
type Name = keyof Registry;

/** The read side of one repository: the methods its class lists in `reads`. */
export type ReadsOf<C extends TenantRepositoryClass> = Pick<
  InstanceType<C>,
  Extract<C["reads"][number], keyof InstanceType<C>>
>;

/** Every repository of one tenant, writes included: what a write transaction holds. */
export type TenantRepositories = { readonly [K in Name]: InstanceType<Registry[K]> };

/** Every repository of one tenant, reads only: what a read handle holds. */
export type TenantReads = { readonly [K in Name]: ReadsOf<Registry[K]> };

const NAMES = Object.keys(TENANT_REPOSITORIES) as Name[];

/** Each repository of the registry, built for one tenant. */
export function tenantRepositories(handle: BetterSqlite3.Database, tenantId: string): TenantRepositories {
  return Object.fromEntries(
    NAMES.map((name) => [name, new TENANT_REPOSITORIES[name](handle, tenantId)]),
  ) as unknown as TenantRepositories;
}

/**
 * A frozen object holding only the named methods of a repository, bound to it: what a handle
 * that may call only those gets, so a cast cannot reach another method (an insert through a read
 * handle, a revoke through a bookkeeping one).
 */
export function only<R extends object, M extends keyof R & string>(repository: R, methods: readonly M[]): Pick<R, M> {
  const methodOf = (name: M): unknown => (repository[name] as (...args: unknown[]) => unknown).bind(repository);
  return Object.freeze(Object.fromEntries(methods.map((name) => [name, methodOf(name)]))) as Pick<R, M>;
}

/** The read side of each repository: objects that hold only the methods its class lists in `reads`. */
export function tenantReads(handle: BetterSqlite3.Database, tenantId: string): TenantReads {
  const repositories = tenantRepositories(handle, tenantId) as unknown as Record<Name, Record<string, unknown>>;
  return Object.freeze(
    Object.fromEntries(NAMES.map((name) => [name, only(repositories[name], TENANT_REPOSITORIES[name].reads)])),
  ) as unknown as TenantReads;
}
