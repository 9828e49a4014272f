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
import type { Actor } from "../vocabulary/events.js";
import type { CryptoService, KeyResolver } from "../crypto/index.js";
import type { Database } from "../db/db.js";
import { StrandingRetirementError, type DataKeyRef, type ServingRecord } from "../db/keystore.js";
import { DomainError } from "../errors.js";

export interface KeyDeps {
  readonly db: Database;
  readonly crypto: CryptoService;
  readonly events: EventSink;
  readonly now: () => Date;
  /** The master keys of the server running on the data directory, if one runs (retire-master refuses to pull its current key away). */
  readonly runningServer?: () => ServingRecord | null;
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
  if (deps.db.keystore.retiredMasterLabels().has(label))
    throw new DomainError("conflict", `master key ${label} was retired; use a new key`);
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
  refreshServingRecord(deps);
  deps.events.emit({
    event: "keys.master_rotated",
    sensitivity: "security",
    severity: "warn",
    tenantId: null,
    actor,
    payload: { masterLabel: label, masterVersion, previousLabel, wrapsAdded: wrapsAdded + late },
  });
  return { masterLabel: label, masterVersion, previousLabel, wrapsAdded: wrapsAdded + late };
}

/** Data keys named in a refusal at most; the count is always complete. */
const NAMED = 5;

function nameKeys(keys: readonly DataKeyRef[]): string {
  return (
    keys
      .slice(0, NAMED)
      .map((k) => `tenant ${k.tenantId} v${k.version}`)
      .join(", ") + (keys.length > NAMED ? `, and ${keys.length - NAMED} more` : "")
  );
}

/** The refusal when data keys would be left with no usable wrap: which ones, and how to give them another. */
function strandingRefusal(label: string, stranded: readonly DataKeyRef[]): DomainError {
  return new DomainError(
    "conflict",
    `master key ${label} cannot be retired: ${stranded.length} data key(s) are wrapped only under it (${nameKeys(stranded)}); ` +
      `load it beside the current key (VECTO_PREVIOUS_MASTER_KEYS) and run "vecto keys rewrap" (retire-master re-wraps too), then retire again`,
  );
}

/**
 * Removes every wrap under a master key and marks it retired. First re-wraps what the loaded keys
 * can, and proves each data key wrapped under the key opens under the current one where it has a
 * wrap there. Refuses to retire the current key, the key the running server still uses as its
 * current one, or while any data key would be left with no wrap under another non-retired master
 * key (checked again inside the keystore transaction that deletes the wraps). On an already
 * retired key it removes leftover wraps under the same rules (idempotent clean-up).
 */
export async function retireMaster(
  deps: KeyDeps,
  label: string,
  actor: Actor,
): Promise<{ wrapsRemoved: number; alreadyRetired: boolean }> {
  const ring = deps.crypto.masterKeys;
  const known = deps.db.keystore.masters().find((m) => m.label === label);
  if (known === undefined) throw new DomainError("not-found", `no master key ${label} is registered`);
  const alreadyRetired = known.retiredAt !== null;
  if (label === ring.currentLabel)
    throw new DomainError("conflict", `master key ${label} is the current one; rotate to another first`);
  const server = deps.runningServer?.() ?? null;
  if (server !== null && server.currentLabel === label && server.pid !== process.pid) {
    throw new DomainError(
      "conflict",
      `master key ${label} is still the current key of the running server (pid ${server.pid}, started ${server.startedAt}): make the new key current in its configuration and restart it, then retire`,
    );
  }
  // A key this process cannot open is skipped here and left to the check below, which names it.
  await wrapUnderLoadedMasters(deps);
  for (const owner of deps.db.keystore.keyOwners()) {
    for (const key of deps.db.keystore.listTenantKeys(owner)) {
      const labels = key.wraps.map((w) => w.masterLabel);
      if (key.status !== "active" || !labels.includes(label) || !labels.includes(ring.currentLabel)) continue;
      await deps.crypto.checkUnwrapsWith(owner, key.version, ring.currentLabel);
    }
  }
  let wrapsRemoved: number;
  try {
    wrapsRemoved = deps.db.keystore.retireMaster(label, deps.now().toISOString());
  } catch (error) {
    if (error instanceof StrandingRetirementError) throw strandingRefusal(label, error.stranded);
    throw error;
  }
  if (ring.has(label)) ring.drop(label);
  refreshServingRecord(deps);
  if (!alreadyRetired || wrapsRemoved > 0) {
    deps.events.emit({
      event: "keys.master_retired",
      sensitivity: "security",
      severity: "warn",
      tenantId: null,
      actor,
      payload: { masterLabel: label, wrapsRemoved, alreadyRetired },
    });
  }
  return { wrapsRemoved, alreadyRetired };
}

/**
 * `vecto keys rewrap`: every data key gains a wrap under each loaded, non-retired master key it
 * lacks (what the key-maintenance job and retire-master do first). Returns the wraps added.
 */
export async function rewrapAll(deps: KeyDeps, actor: Actor): Promise<{ wrapsAdded: number }> {
  const wrapsAdded = await wrapUnderLoadedMasters(deps);
  if (wrapsAdded > 0)
    deps.events.emit({
      event: "keys.rewrapped",
      sensitivity: "security",
      severity: "info",
      tenantId: null,
      actor,
      payload: { wrapsAdded, masterLabels: deps.crypto.masterKeys.labels().join(",") },
    });
  return { wrapsAdded };
}

/** After the serving process changed its master keys (rotation through the API): the CLI sees the new ones. */
function refreshServingRecord(deps: KeyDeps): void {
  const record = deps.db.keystore.servingRecord();
  if (record === null || record.pid !== process.pid) return;
  const ring = deps.crypto.masterKeys;
  deps.db.keystore.recordServing({ ...record, currentLabel: ring.currentLabel, loadedLabels: ring.labels() });
}

/** A new data-key version for a tenant: new writes use it at once. */
export async function rotateTenantKey(deps: KeyDeps, tenantId: string, actor: Actor): Promise<{ version: number }> {
  if (deps.db.tenants.get(tenantId) === undefined) throw new DomainError("not-found", "no such tenant");
  const version = await deps.crypto.createTenantKey(tenantId);
  recordDekRotated(deps.events, tenantId, version, actor, "requested");
  return { version };
}

/** A tenant's new data-key version, on request or forced by the encryption limit (the crypto service's onForcedRotation). */
export function recordDekRotated(
  events: EventSink,
  tenantId: string,
  version: number,
  actor: Actor,
  reason: "requested" | "encryption-limit",
): void {
  events.emit({
    event: "keys.dek_rotated",
    sensitivity: "security",
    severity: "info",
    tenantId,
    actor,
    payload: { version, reason },
  });
}
