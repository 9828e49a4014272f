/**
 * Whether a process's master keys still serve the installation, from the keystore alone (no
 * unwrap, so /readyz can afford it):
 * - failure: its current master key was retired (it cannot wrap a new data key any more), or some
 *   active data key has no wrap under any of its loaded, non-retired master keys (that tenant
 *   answers 503 keys-unavailable);
 * - warning: the registry knows a newer master key than its current one (superseded: it still
 *   works, but must be reconfigured and restarted before the old key is retired).
 * The operator's rendering names master-key labels; the public one (/readyz) names none, only
 * the ids of tenants whose data key is stranded. Neither names a tenant or shows key material.
 */
import type { DataKeyRef, KeyStore } from "../db/keystore.js";
import type { Logger } from "../log.js";

export interface MasterKeyUse {
  readonly currentLabel: string;
  readonly loadedLabels: readonly string[];
}

export interface KeyHealthFacts {
  readonly currentLabel: string;
  readonly currentRetired: boolean;
  /** The newest registered, non-retired master key when it is newer than the current one. */
  readonly supersededBy: { readonly label: string; readonly version: number } | null;
  /** Active data keys none of the loaded, non-retired master keys has a wrap for. */
  readonly stranded: readonly DataKeyRef[];
}

export interface KeyHealth {
  readonly failures: readonly string[];
  readonly warnings: readonly string[];
}

/** Stranded data keys named in one message at most; the count is always complete. */
const NAMED = 5;

export function keyHealthFacts(keystore: KeyStore, use: MasterKeyUse): KeyHealthFacts {
  const masters = keystore.masters();
  const current = masters.find((m) => m.label === use.currentLabel);
  const currentRetired = current !== undefined && current.retiredAt !== null;
  const newest = masters.filter((m) => m.retiredAt === null).at(-1);
  const supersededBy =
    current !== undefined && !currentRetired && newest !== undefined && newest.version > current.version
      ? { label: newest.label, version: newest.version }
      : null;
  return {
    currentLabel: use.currentLabel,
    currentRetired,
    supersededBy,
    stranded: keystore.keysWithoutUsableWrap(use.loadedLabels),
  };
}

/** `labels`: name master keys (operator output: CLI, logs); false for the public /readyz. */
export function describeKeyHealth(facts: KeyHealthFacts, labels: boolean): KeyHealth {
  const failures: string[] = [];
  const warnings: string[] = [];
  const current = labels ? `master key ${facts.currentLabel}` : "the current master key";
  if (facts.currentRetired) failures.push(`${current} was retired; restart with the current configuration`);
  if (facts.supersededBy !== null) {
    const newer = labels ? `${facts.supersededBy.label} (version ${facts.supersededBy.version})` : "a newer master key";
    warnings.push(
      `${current} is superseded by ${newer}: make that one current and restart before retiring the old one`,
    );
  }
  if (facts.stranded.length > 0) {
    const named = facts.stranded
      .slice(0, NAMED)
      .map((k) => `tenant ${k.tenantId} v${k.version}`)
      .join(", ");
    failures.push(
      `${facts.stranded.length} data key(s) have no wrap under an available master key: ${named}${facts.stranded.length > NAMED ? ", …" : ""}`,
    );
  }
  return { failures, warnings };
}

export function keyHealth(keystore: KeyStore, use: MasterKeyUse, labels: boolean): KeyHealth {
  return describeKeyHealth(keyHealthFacts(keystore, use), labels);
}

/**
 * Logs the key health now and whenever it changes (failures at error, warnings at warn), checking
 * every `intervalMs`: a server learns that another process superseded or retired its master key
 * without a restart. Returns a stop function.
 */
export function watchKeyHealth(check: () => KeyHealth, log: Logger, intervalMs: number): () => void {
  let last = "";
  const run = (): void => {
    let health: KeyHealth;
    try {
      health = check();
    } catch (error) {
      health = { failures: [`key health could not be checked: ${(error as Error).message}`], warnings: [] };
    }
    const now = JSON.stringify(health);
    if (now === last) return;
    const recovered = last !== "";
    last = now;
    for (const failure of health.failures) log.error({ check: "keys" }, failure);
    for (const warning of health.warnings) log.warn({ check: "keys" }, warning);
    if (recovered && health.failures.length === 0 && health.warnings.length === 0)
      log.info({ check: "keys" }, "master keys: every data key has a wrap under a loaded, non-retired master key");
  };
  run();
  const timer = setInterval(run, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
