/**
 * A tenant that lost its only admin gets one back from the platform root: the root names an
 * email; a person of the tenant with that email becomes an active tenant admin, or a new one is
 * created without a password, and a one-time reset token (src/auth/password-reset.ts: `vrt_`,
 * 30 minutes, one use) is returned for that person to set their password.
 *
 * The root handles no tenant content here: the answer is an id and the token, never the
 * person's stored name or email. But whoever holds the token can set the password and sign in as
 * a tenant admin, with all that a tenant admin reads; the root could redeem it itself. That is the
 * price of a way back, so it is loud: one security event in the tenant's own log (where the
 * root's other actions on a tenant are recorded, e.g. tenant.created), and a notification to the
 * tenant's other active admins. Its redemption is audited like any reset, naming the root.
 */
import { randomUUID } from "node:crypto";
import type { UserRecord } from "../db/repositories/users.js";
import { DomainError } from "../errors.js";
import { isUniqueViolation, tenantById, type AccountDeps } from "./accounts.js";
import { RESET_TOKEN_PREFIX, RESET_TOKEN_TTL_SECONDS } from "./password-reset.js";
import { actorOf, type Principal } from "./principal.js";
import { emailLookup, sealProfile, type Profile } from "./profiles.js";
import { newOpaqueSecret, secretHash } from "./opaque-secrets.js";

export interface AssignedAdmin {
  readonly userId: string;
  /** False when an existing person of the tenant was made admin. */
  readonly created: boolean;
  /** Shown in this answer only. */
  readonly token: string;
  readonly expiresAt: string;
}

/** A new human tenant admin with no password: the reset token sets it. */
async function newAdmin(deps: AccountDeps, tenantId: string, profile: Profile, now: string): Promise<UserRecord> {
  const id = randomUUID();
  return {
    id,
    tenantId,
    kind: "human",
    ...(await sealProfile(deps.crypto, tenantId, id, profile)),
    role: "tenant_admin",
    auditor: false,
    passwordHash: null,
    status: "active",
    createdAt: now,
    updatedAt: now,
  };
}

/** The tenant's active admins other than `except`, to be told. */
function otherAdmins(deps: AccountDeps, tenantId: string, except: string): string[] {
  const ids: string[] = [];
  const users = deps.db.tenantReads(tenantId).users;
  for (let page = users.list(undefined, 500); page.length > 0; page = users.list(page.at(-1)?.id, 500)) {
    for (const u of page) if (u.role === "tenant_admin" && u.status === "active" && u.id !== except) ids.push(u.id);
  }
  return ids;
}

export async function assignTenantAdmin(
  deps: AccountDeps,
  actor: Principal,
  tenantId: string,
  profile: Profile,
): Promise<AssignedAdmin> {
  const tenant = tenantById(deps, tenantId);
  if (tenant.status !== "active") throw new DomainError("conflict", "the tenant is suspended; reactivate it first");
  const lookup = await emailLookup(deps.crypto, tenantId, profile.email);
  const existing = deps.db.tenantReads(tenantId).users.findByEmail(lookup);
  if (existing?.kind === "agent")
    throw new DomainError("rejected", "this email belongs to an agent, which cannot be an admin");
  // A new person, or a disabled one enabled again, takes a seat (as in createUser and updateUser).
  const takesSeat = existing === undefined || existing.status === "disabled";
  if (takesSeat) deps.license.assertCanCreate("user");
  const user = existing ?? (await newAdmin(deps, tenantId, profile, new Date().toISOString()));
  const token = RESET_TOKEN_PREFIX + newOpaqueSecret();
  const notify = otherAdmins(deps, tenantId, user.id);
  try {
    const expiresAt = await deps.db.write((platformTx) => {
      // The platform root acts on the tenant's accounts: system work of the platform, in the tenant's rows.
      const tx = platformTx.tenant(tenantId);
      if (takesSeat) deps.license.assertCanCreate("user");
      if (tx.users.findByEmail(lookup)?.id !== existing?.id)
        throw new DomainError("conflict", "the tenant's users changed meanwhile; try again");
      const accessChanged =
        existing !== undefined && (existing.role !== "tenant_admin" || existing.status !== "active");
      if (existing === undefined) tx.users.insert(user);
      else if (accessChanged) {
        tx.users.update(user.id, { role: "tenant_admin", status: "active" }, tx.now);
        tx.sessions.revokeAllForUser(user.id, "access changed", tx.now);
        tx.personalTokens.revokeAllForUser(user.id, tx.now);
      }
      const expires = new Date(Date.parse(tx.now) + RESET_TOKEN_TTL_SECONDS * 1000).toISOString();
      tx.passwordResets.replace({
        tokenHash: secretHash(token),
        userId: user.id,
        createdBy: actor.userId,
        createdAt: tx.now,
        expiresAt: expires,
      });
      tx.audit({
        event: "tenant.admin_assigned",
        sensitivity: "security",
        severity: "warn",
        tenantId,
        actor: actorOf(actor),
        payload: {
          userId: user.id,
          created: existing === undefined,
          previousRole: existing?.role ?? null,
          previousStatus: existing?.status ?? null,
          expiresAt: expires,
        },
        ...(notify.length > 0
          ? {
              notify: {
                userIds: notify,
                message:
                  "The platform root made an account of this tenant a tenant admin and issued it a one-time password reset. If your tenant did not ask for it, tell your security team.",
              },
            }
          : {}),
      });
      return expires;
    });
    return { userId: user.id, created: existing === undefined, token, expiresAt };
  } catch (error) {
    if (isUniqueViolation(error)) throw new DomainError("conflict", "the tenant's users changed meanwhile; try again");
    throw error;
  }
}
