/**
 * What an operator may know about the keys: the resolver and master keys in use, each data-key
 * version with its master wraps, encryption count and the values still sealed under it, and how
 * far re-encryption has come. Never key material.
 */
import type { CryptoService, ResolverInfo } from "../crypto/index.js";
import type { Database } from "../db/db.js";
import type { MasterKeyRecord, ServingRecord } from "../db/keystore.js";
import { keyHealth, type KeyHealth } from "./health.js";

export interface DataKeyStatus {
  readonly version: number;
  readonly status: "active" | "retired";
  /** Encryptions reserved under the version: an upper bound of those performed. */
  readonly encryptions: number;
  /** Sealed values under the version now. */
  readonly values: number;
  readonly masterLabels: readonly string[];
  readonly createdAt: string;
  readonly unusedSince: string | null;
  readonly retiredAt: string | null;
}

export interface TenantKeyStatus {
  readonly tenantId: string;
  readonly writeVersion: number | null;
  readonly versions: readonly DataKeyStatus[];
  /** Values still sealed under an older version: zero when re-encryption is complete. */
  readonly reencryptionRemaining: number;
}

export interface KeyStatus {
  readonly resolver: ResolverInfo;
  readonly masterVersion: number | null;
  readonly masterKeys: readonly (MasterKeyRecord & { readonly loaded: boolean; readonly current: boolean })[];
  /** Active data keys with no wrap under the current master key (a rotation in progress, or keys it cannot read). */
  readonly wrappedUnderOtherMasterKeys: number;
  readonly tenants: readonly TenantKeyStatus[];
  /** This process's master keys: failures (retired current key, stranded data keys) and warnings (superseded). */
  readonly health: KeyHealth;
  /** The server running on the data directory (if one runs): the master keys it uses, and the same checks for them. */
  readonly runningServer: (ServingRecord & { readonly health: KeyHealth }) | null;
}

export function keyStatus(db: Database, crypto: CryptoService, runningServer: ServingRecord | null = null): KeyStatus {
  const ring = crypto.masterKeys;
  const current = ring.currentLabel;
  const masters = db.keystore.masters().map((m) => ({ ...m, loaded: ring.has(m.label), current: m.label === current }));
  const keys = db.keystore.summary();
  const owners = [...new Set(keys.map((k) => k.tenantId))];
  const tenants = owners.map((tenantId): TenantKeyStatus => {
    // Reserved ids ("_platform", "_signing") hold installation secrets, not sealed tenant fields.
    const reserved = tenantId.startsWith("_");
    const counts = reserved ? new Map<number, number>() : db.tenantReads(tenantId).sealedFields.versionCounts();
    const writeVersion = reserved ? null : (crypto.writeVersion(tenantId) ?? null);
    const versions = keys
      .filter((k) => k.tenantId === tenantId)
      .map(({ tenantId: _, ...k }) => ({ ...k, values: counts.get(k.version) ?? 0 }));
    const remaining = [...counts].reduce((n, [version, count]) => (version === writeVersion ? n : n + count), 0);
    return { tenantId, writeVersion, versions, reencryptionRemaining: remaining };
  });
  return {
    resolver: crypto.masterKeys.describe(),
    masterVersion: masters.find((m) => m.current)?.version ?? null,
    masterKeys: masters,
    wrappedUnderOtherMasterKeys: keys.filter((k) => k.status === "active" && !k.masterLabels.includes(current)).length,
    tenants,
    health: keyHealth(db.keystore, { currentLabel: current, loadedLabels: ring.labels() }, true),
    runningServer:
      runningServer === null ? null : { ...runningServer, health: keyHealth(db.keystore, runningServer, true) },
  };
}
