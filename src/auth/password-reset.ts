/**
 * Password reset without email (an air-gapped appliance has none): a tenant admin issues a
 * one-time reset token for a user and hands it over out of band; the user redeems it with a new
 * password at a public route.
 *
 * The token is `vrt_` + 256 random bits, shown once, stored only as its SHA-256, valid for
 * 30 minutes, spent by its use, replaced by a newer one, and dead with its user (disabled,
 * deleted, erased, role changed) or tenant. Redeeming it ends every session and personal access
 * token of the user: a reset means the account may have been in the wrong hands. The admin who
 * issues a token could redeem it; that is why both steps are audited and the user is told.
 * The platform root's only reset is the break-glass one of src/auth/root-recovery.ts.
 */
import type { TenantDb } from "../db/tenant-db.js";
import { mintTenantScope } from "../db/tenant-scope.js";
import { DomainError } from "../errors.js";
import type { PasswordFlowDeps } from "./password-change.js";
import { checkPassword } from "./accounts.js";
import { actorOf, type Principal } from "./principal.js";
import { openProfile } from "./profiles.js";
import { newOpaqueSecret, secretHash } from "./opaque-secrets.js";
import { addressKeys } from "./throttle.js";

export const RESET_TOKEN_PREFIX = "vrt_";
export const RESET_TOKEN_TTL_SECONDS = 30 * 60;
const INVALID = "the reset token is invalid, spent or expired";

export interface IssuedReset {
  readonly userId: string;
  /** Shown in this answer only. */
  readonly token: string;
  readonly expiresAt: string;
}

export async function issuePasswordReset(
  deps: PasswordFlowDeps,
  tenantDb: TenantDb,
  actor: Principal,
  userId: string,
): Promise<IssuedReset> {
  const target = tenantDb.users.get(userId);
  if (!target) throw new DomainError("not-found", "no such user");
  if (target.id === actor.userId)
    throw new DomainError("forbidden", "change your own password with POST /api/me/password");
  if (target.kind !== "human") throw new DomainError("rejected", "an agent has no password");
  if (target.status !== "active") throw new DomainError("rejected", "the account is disabled; enable it first");
  const token = RESET_TOKEN_PREFIX + newOpaqueSecret();
  const expiresAt = await tenantDb.write((tx) => {
    const expires = new Date(Date.parse(tx.now) + RESET_TOKEN_TTL_SECONDS * 1000).toISOString();
    tx.passwordResets.replace({
      tokenHash: secretHash(token),
      userId,
      createdBy: actor.userId,
      createdAt: tx.now,
      expiresAt: expires,
    });
    tx.audit({
      event: "auth.password_reset_issued",
      sensitivity: "security",
      severity: "warn",
      tenantId: tenantDb.tenantId,
      actor: actorOf(actor),
      payload: { userId, expiresAt: expires },
    });
    return expires;
  });
  return { userId, token, expiresAt };
}

/** Sets the new password and ends every credential of the user; the token is spent only when the password is accepted. */
export async function redeemPasswordReset(
  deps: PasswordFlowDeps,
  token: string,
  newPassword: string,
  address: string,
): Promise<void> {
  const { db, events } = deps;
  const keys = addressKeys(address);
  const wait = deps.throttle.retryAfter(keys);
  const fail = async (reason: string, tenantId: string | null): Promise<never> => {
    if (wait === 0) await deps.throttle.failure(keys);
    events.emit({
      event: "auth.password_reset_failed",
      sensitivity: "security",
      severity: "warn",
      tenantId,
      actor: { type: "anonymous", id: null },
      payload: { address, reason },
    });
    if (wait > 0)
      throw new DomainError("throttled", `too many failed attempts; try again in ${wait} seconds`, {
        retryAfterSeconds: wait,
      });
    throw new DomainError("invalid-credentials", INVALID);
  };
  if (wait > 0) return fail("throttled", null);
  const reset = token.startsWith(RESET_TOKEN_PREFIX) ? db.credentials.passwordReset(secretHash(token)) : undefined;
  if (!reset) return fail("unknown token", null);
  // The token's hash established the tenant: from here on, its door.
  const account = db.forTenant(mintTenantScope(reset.tenantId, { type: "system", id: "password reset" }));
  const tenant = account.tenant.get();
  const user = account.users.get(reset.userId);
  if (Date.parse(reset.expiresAt) <= deps.now().getTime()) return fail("expired", reset.tenantId);
  if (!tenant || tenant.status !== "active" || !user || user.status !== "active" || user.kind !== "human")
    return fail("account unavailable", reset.tenantId);
  // Only `vecto recover-root` issues a reset for the platform tenant (no route does): the setting also voids one issued before it was disabled.
  if (tenant.kind === "platform" && !deps.rootRecovery) return fail("root recovery disabled", reset.tenantId);
  checkPassword(newPassword, await openProfile(deps.crypto, user));
  const hash = await deps.passwords.hash(newPassword);
  const spent = await account.write((tx) => {
    if (!tx.passwordResets.consume(reset.tokenHash, tx.now)) return false;
    tx.users.update(user.id, { passwordHash: hash }, tx.now);
    const sessionsEnded = tx.sessions.revokeAllForUser(user.id, "password reset", tx.now);
    const tokensRevoked = tx.personalTokens.revokeAllForUser(user.id, tx.now);
    tx.audit({
      event: "auth.password_reset_completed",
      sensitivity: "security",
      severity: "warn",
      tenantId: reset.tenantId,
      actor: { type: "human", id: user.id },
      payload: { address, userId: user.id, issuedBy: reset.createdBy, sessionsEnded, tokensRevoked },
      notify: {
        userIds: [user.id],
        message:
          "Your password was reset with a one-time token from an administrator, and all your sessions and access tokens were ended. If it was not you, tell your administrator.",
      },
    });
    return true;
  });
  // Lost a race with another redemption of the same token.
  if (!spent) return fail("spent", reset.tenantId);
}
