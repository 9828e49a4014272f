/**
 * The key-maintenance pass the scheduler runs: pick up key versions other processes created,
 * wrap every data key under each loaded master key, move a share of old rows to their tenant's
 * newest data key, and retire versions nothing uses any more.
 */
import { reencryptTenant, retireUnusedVersions, tenantsWithKeys } from "./reencrypt.js";
import { wrapUnderLoadedMasters, type KeyDeps } from "./rotation.js";

export interface MaintenanceOptions {
  /** Values re-encrypted per pass at most, over all tenants. */
  readonly maxValues: number;
  /** How long a version must stay unused before it is retired. */
  readonly retireGraceMs: number;
}

export const DEFAULT_MAINTENANCE: MaintenanceOptions = { maxValues: 20_000, retireGraceMs: 10 * 60_000 };

export interface MaintenanceResult extends Record<string, number> {
  readonly wrapsAdded: number;
  readonly valuesReencrypted: number;
  readonly valuesRemaining: number;
  readonly versionsRetired: number;
}

export async function keyMaintenance(
  deps: KeyDeps,
  options: MaintenanceOptions = DEFAULT_MAINTENANCE,
): Promise<MaintenanceResult> {
  const actor = { type: "system" as const, id: "job:key-maintenance" };
  deps.crypto.refreshWriteVersions();
  const wrapsAdded = await wrapUnderLoadedMasters(deps);
  let budget = options.maxValues;
  let valuesReencrypted = 0;
  let valuesRemaining = 0;
  let versionsRetired = 0;
  for (const tenantId of tenantsWithKeys(deps)) {
    const result = await reencryptTenant(deps, tenantId, actor, { maxValues: budget });
    budget -= result.rewritten;
    valuesReencrypted += result.rewritten;
    valuesRemaining += result.remaining;
    if (result.remaining === 0)
      versionsRetired += retireUnusedVersions(deps, tenantId, options.retireGraceMs, actor).length;
  }
  return { wrapsAdded, valuesReencrypted, valuesRemaining, versionsRetired };
}
