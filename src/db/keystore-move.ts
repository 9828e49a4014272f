/**
 * One-time move of tenant keys from the data database (schema before 0005) into the keystore.
 * Keys are copied, the copy is checked byte for byte, and only then may migration 0005 drop the
 * old table: a crash at any point leaves every key in at least one place.
 */
import type BetterSqlite3 from "better-sqlite3";
import type { KeyStore, LegacyTenantKey } from "./keystore.js";

interface LegacyRow {
  tenant_id: string;
  version: number;
  master_label: string;
  wrapped: Buffer;
  status: "active" | "retired";
  created_at: string;
}

export function moveKeysToKeystore(handle: BetterSqlite3.Database, keystore: KeyStore): void {
  const legacy = handle.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'tenant_keys'").get();
  if (!legacy) return;
  const keys: LegacyTenantKey[] = handle
    .prepare<[], LegacyRow>(
      "SELECT tenant_id, version, master_label, wrapped, status, created_at " +
        "FROM tenant_keys WHERE tenant_id IS NOT NULL",
    )
    .all()
    .map((r) => ({
      tenantId: r.tenant_id,
      version: r.version,
      masterLabel: r.master_label,
      wrapped: new Uint8Array(r.wrapped),
      status: r.status,
      createdAt: r.created_at,
    }));
  keystore.adopt(keys);
  for (const key of keys) {
    const copy = keystore
      .listTenantKeys(key.tenantId)
      .find((k) => k.version === key.version)
      ?.wraps.find((w) => w.masterLabel === key.masterLabel);
    if (!copy || !Buffer.from(copy.wrapped).equals(Buffer.from(key.wrapped))) {
      throw new Error(
        `keystore copy of tenant ${key.tenantId} key version ${key.version} differs; refusing to continue`,
      );
    }
  }
}
