/**
 * What an operator may know about the keys: which resolver and master key are in use, and each
 * tenant's data-key versions with the master key that wraps them. Never key material.
 */
import type { KeyStore } from "../db/keystore.js";
import type { KeyResolver, ResolverInfo } from "../crypto/key-resolver.js";

export interface KeyStatus {
  readonly resolver: ResolverInfo;
  /** Keys wrapped under a master key other than the one loaded (unreadable until it is back). */
  readonly wrappedUnderOtherMasterKeys: number;
  readonly tenants: readonly { readonly tenantId: string; readonly versions: readonly { version: number; status: string; masterLabel: string; createdAt: string }[] }[];
}

export function keyStatus(resolver: KeyResolver, keystore: KeyStore): KeyStatus {
  const info = resolver.describe();
  const rows = keystore.summary();
  const byTenant = new Map<string, { version: number; status: string; masterLabel: string; createdAt: string }[]>();
  for (const row of rows) {
    const list = byTenant.get(row.tenantId) ?? [];
    list.push({ version: row.version, status: row.status, masterLabel: row.masterLabel, createdAt: row.createdAt });
    byTenant.set(row.tenantId, list);
  }
  return {
    resolver: info,
    wrappedUnderOtherMasterKeys: rows.filter((r) => r.masterLabel !== info.masterLabel).length,
    tenants: [...byTenant].map(([tenantId, versions]) => ({ tenantId, versions })),
  };
}
