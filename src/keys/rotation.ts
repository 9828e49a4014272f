/**
 * Key rotation without downtime (datasheet 2.3).
 * - Master key: the new key is loaded beside the current one, every data key gains a wrap under
 *   it, then it becomes current. The old key keeps unwrapping until it is retired, which removes
 *   its wraps once each data key provably opens under another loaded key. A move from a key file
 *   to an HSM is the same rotation with resolvers of two kinds.
 * - Data keys: a new version takes every new write at once; re-encryption (reencrypt.ts) moves
 *   older rows, and a version no row uses any more is retired.
 */
import type { EventSink } from "../audit/events.js";
import type { CryptoService } from "../crypto/crypto-service.js";
import type { KeyResolver } from "../crypto/key-resolver.js";
import type { Database } from "../db/db.js";
import { DomainError } from "../errors.js";

export interface KeyDeps {
  readonly db: Database;
  readonly crypto: CryptoService;
  readonly events: EventSink;
  readonly now: () => Date;
}

export interface Actor {
  readonly type: "human" | "system";
  readonly id: string | null;
}

export interface MasterRotation {
  readonly masterLabel: string;
  readonly masterVersion: number;
  readonly previousLabel: string;
  readonly wrapsAdded: number;
}

/** Registers the loaded master keys (idempotent): they get versions in the order first seen. */
export function registerLoadedMasters(deps: KeyDeps): void {
  for (const r of deps.crypto.masterKeys.loaded()) {
    const info = r.describe();
    deps.db.keystore.registerMaster(info.masterLabel, info.kind, deps.now().toISOString());
  }
}

/** Gives every data key a wrap under each loaded master key it lacks (start-up and job catch-up). */
export function wrapUnderLoadedMasters(deps: KeyDeps): Promise<number> {
  return deps.crypto.wrapUnderAllMasters(deps.db.keystore.keyOwners());
}

export async function rotateMaster(deps: KeyDeps, next: KeyResolver, actor: Actor): Promise<MasterRotation> {
  const ring = deps.crypto.masterKeys;
  const label = next.describe().masterLabel;
  const previousLabel = ring.currentLabel;
  if (label === previousLabel) throw new DomainError("conflict", `master key ${label} is already the current one`);
  if (deps.db.keystore.retiredMasterLabels().has(label)) throw new DomainError("conflict", `master key ${label} was retired; use a new key`);
  await next.check();
  const masterVersion = deps.db.keystore.registerMaster(label, next.describe().kind, deps.now().toISOString());
  // Loaded first, so keys created while the re-wrap runs are wrapped under it too.
  ring.add(next);
  let wrapsAdded: number;
  try {
    wrapsAdded = await wrapUnderLoadedMasters(deps);
  } catch (error) {
    // Not current yet: unload it, so nothing waits on a key that just failed. Running again resumes.
    ring.drop(label);
    throw error;
  }
  ring.promote(label);
  // A key created between the pass and the promotion was wrapped under both already; this makes sure.
  const late = await wrapUnderLoadedMasters(deps);
  deps.events.emit({ event: "keys.master_rotated", sensitivity: "security", severity: "warn", tenantId: null, actor, payload: { masterLabel: label, masterVersion, previousLabel, wrapsAdded: wrapsAdded + late } });
  return { masterLabel: label, masterVersion, previousLabel, wrapsAdded: wrapsAdded + late };
}

/**
 * Removes every wrap under a master key, after proving each data key opens under the current
 * key. Refuses to retire the current key, or while any data key would be left without a wrap.
 */
export async function retireMaster(deps: KeyDeps, label: string, actor: Actor): Promise<{ wrapsRemoved: number }> {
  const ring = deps.crypto.masterKeys;
  const known = deps.db.keystore.masters().find((m) => m.label === label);
  if (known === undefined) throw new DomainError("not-found", `no master key ${label} is registered`);
  if (known.retiredAt !== null) throw new DomainError("conflict", `master key ${label} is retired already`);
  if (label === ring.currentLabel) throw new DomainError("conflict", `master key ${label} is the current one; rotate to another first`);
  await wrapUnderLoadedMasters(deps);
  for (const owner of deps.db.keystore.keyOwners()) {
    for (const key of deps.db.keystore.listTenantKeys(owner)) {
      if (key.status !== "active") continue;
      await deps.crypto.checkUnwrapsWith(owner, key.version, ring.currentLabel);
    }
  }
  const wrapsRemoved = deps.db.keystore.retireMaster(label, deps.now().toISOString());
  if (ring.has(label)) ring.drop(label);
  deps.events.emit({ event: "keys.master_retired", sensitivity: "security", severity: "warn", tenantId: null, actor, payload: { masterLabel: label, wrapsRemoved } });
  return { wrapsRemoved };
}

/** A new data-key version for a tenant: new writes use it at once. */
export async function rotateTenantKey(deps: KeyDeps, tenantId: string, actor: Actor): Promise<{ version: number }> {
  if (deps.db.tenants.get(tenantId) === undefined) throw new DomainError("not-found", "no such tenant");
  const version = await deps.crypto.createTenantKey(tenantId);
  deps.events.emit({ event: "keys.dek_rotated", sensitivity: "security", severity: "info", tenantId, actor, payload: { version, reason: "requested" } });
  return { version };
}
