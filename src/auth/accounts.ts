/**
 * Creating and changing accounts: the first platform root (with the one-time setup token),
 * tenants with their first admin, and a tenant's users. Every change that could widen or
 * narrow access ends the user's sessions and tokens in the same transaction.
 */
import { randomUUID } from "node:crypto";
import type { CryptoService } from "../crypto/index.js";
import type { Database } from "../db/db.js";
import type { TenantDb, TenantTx } from "../db/tenant-db.js";
import type { Tenant } from "../db/repositories/tenants.js";
import type { ActorKind } from "../vocabulary/events.js";
import type { UserChanges, UserRecord } from "../db/repositories/users.js";
import { DomainError } from "../errors.js";
import type { EventSink } from "../audit/events.js";
import type { ErasureJournal } from "../vocabulary/erasure.js";
import type { LicenseService } from "../license/license.js";
import { passwordProblem, type PasswordHasher } from "./passwords.js";
import { actorOf, type Principal } from "./principal.js";
import { openProfile, sealName, sealProfile, type Profile } from "./profiles.js";
import { sealTenantName, tenantListView, tenantView, type TenantView } from "./tenant-names.js";
import type { Role, TenantRole } from "../vocabulary/roles.js";
import { secretHash } from "./opaque-secrets.js";

export interface NewAccount extends Profile {
  readonly password: string;
}

export interface NewUser extends Profile {
  readonly kind: ActorKind;
  readonly role: TenantRole;
  readonly auditor: boolean;
  /** Humans log in with a password; agents only use access tokens. */
  readonly password?: string;
}

export interface UserView extends Profile {
  readonly id: string;
  readonly tenantId: string;
  readonly kind: ActorKind;
  readonly role: Role;
  readonly auditor: boolean;
  readonly status: UserRecord["status"];
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface AccountDeps {
  readonly db: Database;
  readonly crypto: CryptoService;
  readonly passwords: PasswordHasher;
  readonly events: EventSink;
  /** The license's limits, checked where tenants, people and agents are created (docs/licensing.md). */
  readonly license: Pick<LicenseService, "assertCanCreate">;
  /** Records a tenant erasure next to the data and the backups once it committed (src/backup/erasure-journal.ts). */
  readonly erasures: ErasureJournal;
}

/** The policy for a new password (src/auth/passwords.ts), with the account's own name and email as context. */
export function checkPassword(password: string, profile: Profile): void {
  const problem = passwordProblem(password, [profile.email.split("@")[0] ?? "", ...profile.name.split(/\s+/)]);
  if (problem) throw new DomainError("rejected", `password ${problem}`);
}

export function isUniqueViolation(error: unknown): boolean {
  return error instanceof Error && "code" in error && (error as { code: unknown }).code === "SQLITE_CONSTRAINT_UNIQUE";
}

export async function toUserView(crypto: CryptoService, user: UserRecord): Promise<UserView> {
  const profile = await openProfile(crypto, user);
  return {
    id: user.id,
    tenantId: user.tenantId,
    kind: user.kind,
    role: user.role,
    auditor: user.auditor,
    status: user.status,
    createdAt: user.createdAt,
    updatedAt: user.updatedAt,
    ...profile,
  };
}

async function newUserRecord(
  deps: AccountDeps,
  tenantId: string,
  user: NewUser | (NewAccount & { role: "platform_root" }),
  now: string,
): Promise<UserRecord> {
  const id = randomUUID();
  const password = "password" in user ? user.password : undefined;
  const kind = "kind" in user ? user.kind : "human";
  if (kind === "human" && password === undefined) throw new DomainError("rejected", "a human user needs a password");
  if (kind === "agent" && password !== undefined)
    throw new DomainError("rejected", "an agent authenticates with access tokens, not a password");
  if (password !== undefined) checkPassword(password, user);
  return {
    id,
    tenantId,
    kind,
    ...(await sealProfile(deps.crypto, tenantId, id, user)),
    role: user.role,
    auditor: "auditor" in user ? user.auditor : false,
    passwordHash: password === undefined ? null : await deps.passwords.hash(password),
    status: "active",
    createdAt: now,
    updatedAt: now,
  };
}

const SETUP_TOKEN_INVALID = "the setup token is invalid, spent or expired";

/** POST /api/setup: creates the platform tenant and its root, once, with the one-time token. */
export async function completeSetup(deps: AccountDeps, setupToken: string, root: NewAccount): Promise<UserView> {
  if (deps.db.tenants.platformTenant()) throw new DomainError("conflict", "setup is already complete");
  // Check the token before any costly or lasting work: an unauthenticated caller gets nothing done.
  if (!deps.db.setupTokens.isValid(secretHash(setupToken), new Date().toISOString()))
    throw new DomainError("invalid-credentials", SETUP_TOKEN_INVALID);
  checkPassword(root.password, root);
  const tenantId = randomUUID();
  await deps.crypto.createTenantKey(tenantId);
  const now = new Date().toISOString();
  const user = await newUserRecord(deps, tenantId, { ...root, role: "platform_root" }, now);
  const nameEnc = await sealTenantName(deps.crypto, tenantId, "Platform");
  const created = await deps.db.write((tx) => {
    if (tx.tenants.platformTenant()) return false;
    if (!tx.setupTokens.consume(secretHash(setupToken), tx.now))
      throw new DomainError("invalid-credentials", SETUP_TOKEN_INVALID);
    tx.tenants.create({
      id: tenantId,
      slug: "platform",
      nameEnc,
      kind: "platform",
      status: "active",
      accessTokenTtlSeconds: 8 * 3600,
      createdAt: tx.now,
    });
    tx.tenant(tenantId).users.insert(user);
    tx.audit({
      event: "auth.setup_completed",
      sensitivity: "security",
      severity: "info",
      tenantId,
      actor: { type: "human", id: user.id },
      payload: {},
    });
    return true;
  });
  if (!created) throw new DomainError("conflict", "setup is already complete");
  return toUserView(deps.crypto, user);
}

/** The platform root creates a tenant together with its first tenant admin. */
export async function createTenant(
  deps: AccountDeps,
  actor: Principal,
  input: { slug: string; name: string; admin: NewAccount },
): Promise<{ tenant: TenantView; admin: UserView }> {
  if (input.slug === "platform" || deps.db.tenants.getBySlug(input.slug))
    throw new DomainError("conflict", `tenant slug ${input.slug} is taken`);
  // A tenant comes with its first admin: it takes a tenant and a person. Checked before any key or hash is made.
  const gate = (): void => {
    deps.license.assertCanCreate("tenant");
    deps.license.assertCanCreate("user");
  };
  gate();
  const tenantId = randomUUID();
  await deps.crypto.createTenantKey(tenantId);
  const now = new Date().toISOString();
  const admin = await newUserRecord(
    deps,
    tenantId,
    { ...input.admin, kind: "human", role: "tenant_admin", auditor: false },
    now,
  );
  const tenant: Omit<Tenant, "readAudit"> = {
    id: tenantId,
    slug: input.slug,
    nameEnc: await sealTenantName(deps.crypto, tenantId, input.name),
    kind: "customer",
    status: "active",
    accessTokenTtlSeconds: 8 * 3600,
    createdAt: now,
  };
  try {
    await deps.db.write((tx) => {
      gate();
      tx.tenants.create(tenant);
      tx.tenant(tenantId).users.insert(admin);
      tx.audit({
        event: "tenant.created",
        sensitivity: "normal",
        severity: "info",
        tenantId,
        actor: actorOf(actor),
        payload: { slug: input.slug },
      });
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw new DomainError("conflict", `tenant slug ${input.slug} is taken`);
    throw error;
  }
  return {
    tenant: await tenantView(deps.crypto, tenantById(deps, tenantId)),
    admin: await toUserView(deps.crypto, admin),
  };
}

export async function listTenants(deps: AccountDeps, after: string | undefined, limit: number): Promise<TenantView[]> {
  const views: TenantView[] = [];
  for (const tenant of deps.db.tenants.list(after, limit)) views.push(await tenantListView(deps.crypto, tenant));
  return views;
}

export function tenantById(deps: AccountDeps, tenantId: string): Tenant {
  const tenant = deps.db.tenants.get(tenantId);
  if (!tenant || tenant.kind !== "customer") throw new DomainError("not-found", "no such tenant");
  return tenant;
}

/** One tenant as the platform root sees it, its name opened (GET /api/tenants/:id). */
export async function getTenant(deps: AccountDeps, tenantId: string): Promise<TenantView> {
  return tenantView(deps.crypto, tenantById(deps, tenantId));
}

export async function updateTenant(
  deps: AccountDeps,
  actor: Principal,
  tenantId: string,
  changes: {
    name?: string;
    status?: Tenant["status"];
    accessTokenTtlSeconds?: number;
    readAudit?: Tenant["readAudit"];
  },
): Promise<TenantView> {
  tenantById(deps, tenantId);
  const { name, ...rest } = changes;
  const sealed = name === undefined ? {} : { nameEnc: await sealTenantName(deps.crypto, tenantId, name) };
  await deps.db.write((tx) => {
    tx.tenants.update(tenantId, { ...rest, ...sealed });
    // Suspending a tenant or changing what its audit trail records is a security change.
    deps.events.emit({
      event: "tenant.updated",
      sensitivity: changes.status || changes.readAudit ? "security" : "normal",
      severity: "info",
      tenantId,
      actor: actorOf(actor),
      payload: {
        ...(changes.status ? { status: changes.status } : {}),
        ...(changes.accessTokenTtlSeconds ? { accessTokenTtlSeconds: changes.accessTokenTtlSeconds } : {}),
        ...(changes.readAudit ? { readAudit: changes.readAudit } : {}),
      },
    });
  });
  return tenantView(deps.crypto, tenantById(deps, tenantId));
}

export async function createUser(
  deps: AccountDeps,
  tenantDb: TenantDb,
  actor: Principal,
  input: NewUser,
): Promise<UserView> {
  const seat = input.kind === "agent" ? "agent" : "user";
  deps.license.assertCanCreate(seat);
  const user = await newUserRecord(deps, tenantDb.tenantId, input, new Date().toISOString());
  try {
    await tenantDb.write((tx) => {
      deps.license.assertCanCreate(seat);
      tx.users.insert(user);
      tx.audit({
        event: "user.created",
        sensitivity: "security",
        severity: "info",
        tenantId: tenantDb.tenantId,
        actor: actorOf(actor),
        payload: { userId: user.id, role: user.role, kind: user.kind },
      });
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw new DomainError("conflict", "a user with this email exists in this tenant");
    throw error;
  }
  return toUserView(deps.crypto, user);
}

export async function listUsers(
  deps: AccountDeps,
  tenantDb: TenantDb,
  after: string | undefined,
  limit: number,
): Promise<UserView[]> {
  return Promise.all(tenantDb.users.list(after, limit).map((u) => toUserView(deps.crypto, u)));
}

export async function userById(deps: AccountDeps, tenantDb: TenantDb, userId: string): Promise<UserView> {
  return toUserView(deps.crypto, existingUser(tenantDb, userId));
}

export interface UserUpdate {
  readonly name?: string;
  readonly role?: TenantRole;
  readonly auditor?: boolean;
  readonly status?: UserRecord["status"];
}

/** The caller's own account, as it is now. */
export async function currentUser(deps: AccountDeps, principal: Principal): Promise<UserView> {
  const user = deps.db.forTenant(principal.accountScope).users.get(principal.userId);
  if (!user) throw new DomainError("invalid-credentials", "the account no longer exists");
  return toUserView(deps.crypto, user);
}

function existingUser(tenantDb: TenantDb, userId: string): UserRecord {
  const user = tenantDb.users.get(userId);
  if (!user) throw new DomainError("not-found", "no such user");
  return user;
}

/** Refuses changes that would leave the tenant without an active admin, or let an admin change itself. */
export function guardAdminChange(tenantDb: TenantDb, actor: Principal, target: UserRecord, losesAdmin: boolean): void {
  if (target.id === actor.userId)
    throw new DomainError("forbidden", "you cannot change your own role, capabilities or status");
  if (
    losesAdmin &&
    target.role === "tenant_admin" &&
    target.status === "active" &&
    tenantDb.users.countByRole("tenant_admin") <= 1
  ) {
    throw new DomainError("conflict", "the tenant would have no active admin left");
  }
}

export async function updateUser(
  deps: AccountDeps,
  tenantDb: TenantDb,
  actor: Principal,
  userId: string,
  update: UserUpdate,
): Promise<UserView> {
  const target = existingUser(tenantDb, userId);
  const changesAccess = update.role !== undefined || update.auditor !== undefined || update.status !== undefined;
  if (changesAccess)
    guardAdminChange(
      tenantDb,
      actor,
      target,
      (update.role !== undefined && update.role !== "tenant_admin") || update.status === "disabled",
    );
  // Enabling a disabled account takes a seat again, like creating it.
  const takesSeat = update.status === "active" && target.status === "disabled";
  if (takesSeat) deps.license.assertCanCreate(target.kind === "agent" ? "agent" : "user");
  const changes: UserChanges = {
    ...(update.role !== undefined ? { role: update.role } : {}),
    ...(update.auditor !== undefined ? { auditor: update.auditor } : {}),
    ...(update.status !== undefined ? { status: update.status } : {}),
    ...(update.name !== undefined
      ? { nameEnc: await sealName(deps.crypto, tenantDb.tenantId, userId, update.name) }
      : {}),
  };
  await tenantDb.write((tx) => {
    if (takesSeat) deps.license.assertCanCreate(target.kind === "agent" ? "agent" : "user");
    tx.users.update(userId, changes, tx.now);
    if (changesAccess) revokeUserCredentials(tx, userId, "access changed");
    tx.audit({
      event: "user.updated",
      sensitivity: changesAccess ? "security" : "normal",
      severity: "info",
      tenantId: tenantDb.tenantId,
      actor: actorOf(actor),
      payload: {
        userId,
        ...(update.role ? { role: update.role } : {}),
        ...(update.status ? { status: update.status } : {}),
        ...(update.auditor !== undefined ? { auditor: update.auditor } : {}),
      },
      ...(changesAccess
        ? { notify: { userIds: [userId], message: "An administrator changed your access; please sign in again." } }
        : {}),
    });
  });
  return toUserView(deps.crypto, existingUser(tenantDb, userId));
}

/** Ends every session and token of a user, and a pending password reset: disable, role change, delete and erasure take effect at once. */
export function revokeUserCredentials(tx: TenantTx, userId: string, reason: string): void {
  tx.sessions.revokeAllForUser(userId, reason, tx.now);
  tx.personalTokens.revokeAllForUser(userId, tx.now);
  tx.passwordResets.deleteForUser(userId);
}

export async function deleteUser(
  deps: AccountDeps,
  tenantDb: TenantDb,
  actor: Principal,
  userId: string,
): Promise<void> {
  const target = existingUser(tenantDb, userId);
  guardAdminChange(tenantDb, actor, target, true);
  await tenantDb.write((tx) => {
    tx.users.delete(userId);
    tx.audit({
      event: "user.deleted",
      sensitivity: "security",
      severity: "info",
      tenantId: tenantDb.tenantId,
      actor: actorOf(actor),
      payload: { userId },
    });
  });
}
