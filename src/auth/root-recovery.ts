/**
 * Break-glass recovery of the platform root: `vecto recover-root`, run on the appliance as the
 * service user, issues a one-time reset token for the root, which sets a new password at the
 * public POST /api/auth/password-reset like any other reset (src/auth/password-reset.ts).
 *
 * It is the admin-issued reset with the operator's shell in the admin's place: the same `vrt_`
 * token, stored only as its SHA-256 in the same table, spent by its use, and its redemption ends
 * every session and personal token of the root. What differs: it lives 15 minutes, not 30; a new
 * one voids every earlier one of the platform tenant; and VECTO_ROOT_RECOVERY=disabled refuses to
 * issue one and makes the server refuse one issued before. Whoever can run this command holds the
 * master key and the database already, so it adds no power: it replaces editing the database by
 * hand with a step that is audited.
 */
import type { UserRecord } from "../db/repositories/users.js";
import { DomainError } from "../errors.js";
import type { PasswordFlowDeps } from "./password-change.js";
import { RESET_TOKEN_PREFIX } from "./password-reset.js";
import { emailLookup, openProfile } from "./profiles.js";
import { newOpaqueSecret, secretHash } from "./opaque-secrets.js";

export const ROOT_RECOVERY_TTL_SECONDS = 15 * 60;
/** The actor of the issue in the audit trail, and the `issuedBy` of the reset's redemption. */
export const ROOT_RECOVERY_ACTOR = { type: "system", id: "vecto recover-root" } as const;
export const ROOT_RECOVERY_DISABLED = "root recovery is disabled (VECTO_ROOT_RECOVERY=disabled)";

export interface IssuedRootRecovery {
  readonly userId: string;
  readonly email: string;
  /** Printed on the operator's terminal only. */
  readonly token: string;
  readonly expiresAt: string;
}

/** The platform's roots; a lookup by email when given, else the only one. */
async function recoveredRoot(
  deps: PasswordFlowDeps,
  platformId: string,
  email: string | undefined,
): Promise<UserRecord> {
  if (email !== undefined) {
    const user = deps.db.tenantReads(platformId).users.findByEmail(await emailLookup(deps.crypto, platformId, email));
    if (user?.role !== "platform_root") throw new DomainError("not-found", `no platform root has the email ${email}`);
    return user;
  }
  // The platform tenant holds only its roots; setup makes one, and no route adds another. The schema does not forbid more.
  const roots = deps.db
    .tenantReads(platformId)
    .users.list(undefined, 100)
    .filter((u) => u.role === "platform_root");
  const [only] = roots;
  if (only === undefined) throw new DomainError("conflict", "the platform tenant has no root account");
  if (roots.length > 1) {
    const emails = await Promise.all(roots.map(async (u) => (await openProfile(deps.crypto, u)).email));
    throw new DomainError(
      "rejected",
      `there are ${roots.length} platform roots; name one with --email (${emails.join(", ")})`,
    );
  }
  return only;
}

export async function issueRootRecovery(deps: PasswordFlowDeps, email?: string): Promise<IssuedRootRecovery> {
  if (!deps.rootRecovery) throw new DomainError("forbidden", ROOT_RECOVERY_DISABLED);
  const platform = deps.db.tenants.platformTenant();
  if (!platform)
    throw new DomainError(
      "conflict",
      'setup is not complete: there is no platform root to recover; create it with a setup token ("vecto setup-token")',
    );
  const root = await recoveredRoot(deps, platform.id, email);
  if (root.status !== "active" || root.kind !== "human")
    throw new DomainError("rejected", "this platform root account is disabled");
  const profile = await openProfile(deps.crypto, root);
  const token = RESET_TOKEN_PREFIX + newOpaqueSecret();
  const expiresAt = await deps.db.write((platformTx) => {
    const tx = platformTx.tenant(platform.id);
    const expires = new Date(Date.parse(tx.now) + ROOT_RECOVERY_TTL_SECONDS * 1000).toISOString();
    tx.passwordResets.deleteForTenant();
    tx.passwordResets.replace({
      tokenHash: secretHash(token),
      userId: root.id,
      createdBy: ROOT_RECOVERY_ACTOR.id,
      createdAt: tx.now,
      expiresAt: expires,
    });
    tx.audit({
      event: "auth.root_recovery_issued",
      sensitivity: "security",
      severity: "warn",
      tenantId: platform.id,
      actor: ROOT_RECOVERY_ACTOR,
      payload: { userId: root.id, expiresAt: expires },
    });
    return expires;
  });
  return { userId: root.id, email: profile.email, token, expiresAt };
}
