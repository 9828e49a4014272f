/**
 * GDPR erasure (datasheet section 9).
 * - A person: their email and name are replaced by a pseudonym everywhere they are stored (the
 *   user row; nodes refer to authors by id only), their password and credentials are gone, the
 *   account is disabled. The id stays, so the provenance of what they did survives.
 * - A tenant: its keys are destroyed first (crypto-shredding: its ciphertext in the live files and
 *   in its per-tenant backups becomes unreadable), then its rows are deleted and overwritten.
 *   Full backups carry the keystore until retention removes them, and a restore erases the tenant
 *   again (ADR 0004, src/backup/erasures.ts): the erasure is recorded next to the data and the
 *   backups as soon as it committed (src/backup/erasure-journal.ts).
 */
import type { CryptoService } from "../crypto/index.js";
import type { Database } from "../db/db.js";
import type { TenantDb } from "../db/tenant-db.js";
import type { Actor } from "../vocabulary/events.js";
import { DomainError } from "../errors.js";
import { guardAdminChange, revokeUserCredentials, tenantById, type AccountDeps } from "./accounts.js";
import { actorOf, type Principal } from "./principal.js";
import { sealProfile } from "./profiles.js";

export async function eraseUser(
  deps: AccountDeps,
  tenantDb: TenantDb,
  actor: Principal,
  userId: string,
): Promise<void> {
  const target = tenantDb.users.get(userId);
  if (!target) throw new DomainError("not-found", "no such user");
  guardAdminChange(tenantDb, actor, target, true);
  const pseudonym = await sealProfile(deps.crypto, tenantDb.tenantId, userId, {
    email: `erased-${userId}@erased.invalid`,
    name: "Erased user",
  });
  await tenantDb.write((tx) => {
    tx.users.pseudonymise(userId, pseudonym, tx.now);
    revokeUserCredentials(tx, userId, "erased");
    // Not part of revokeUserCredentials: a role change or a disabled account keeps the person's public keys.
    tx.signingKeys.revokeAllForUser(userId, tx.now);
    tx.audit({
      event: "user.erased",
      sensitivity: "security",
      severity: "warn",
      tenantId: tenantDb.tenantId,
      actor: actorOf(actor),
      payload: { userId },
    });
  });
}

/** Irreversible; the caller repeats the tenant's slug to confirm. */
export async function eraseTenant(
  deps: AccountDeps,
  actor: Principal,
  tenantId: string,
  confirmSlug: string,
): Promise<{ keysDestroyed: number }> {
  const tenant = tenantById(deps, tenantId);
  if (confirmSlug !== tenant.slug) throw new DomainError("rejected", "confirm must repeat the tenant's slug exactly");
  const keysDestroyed = await shredTenant(deps, tenantId, tenant.slug, actorOf(actor));
  deps.db.checkpoint();
  await deps.erasures.tenantErased(tenantId);
  return { keysDestroyed };
}

/**
 * The steps of a tenant's erasure, live (eraseTenant) and again after a restore (src/backup/restore.ts,
 * with `erasedAgainAfterRestoreOf`): its keys destroyed first, then its rows, recorded as tenant.erased.
 * Returns how many key versions were destroyed.
 */
export async function shredTenant(
  deps: { readonly db: Database; readonly crypto: Pick<CryptoService, "forgetTenant"> },
  tenantId: string,
  slug: string | null,
  actor: Actor,
  restoredBackupId?: string,
): Promise<number> {
  const keysDestroyed = deps.db.keystore.destroyTenantKeys(tenantId);
  deps.crypto.forgetTenant(tenantId);
  await deps.db.write((tx) => {
    tx.tenants.erase(tenantId);
    tx.loginThrottle.clearTenant(tenantId);
    // Recorded in the platform's log: the tenant's own log is its history, kept under audit retention.
    const payload = {
      erasedTenantId: tenantId,
      slug,
      keysDestroyed,
      ...(restoredBackupId === undefined ? {} : { erasedAgainAfterRestoreOf: restoredBackupId }),
    };
    tx.audit({ event: "tenant.erased", sensitivity: "security", severity: "warn", tenantId: null, actor, payload });
  });
  return keysDestroyed;
}
