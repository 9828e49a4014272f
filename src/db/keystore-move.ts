/**
 * One-time move of tenant keys from the data database (schema before 0005) into the keystore.
 * Keys are copied, the copy is checked byte for byte, and only then may migration 0005 drop the
 * old table: a crash at any point leaves every key in at least one place.
 */
import type BetterSqlite3 from "better-sqlite3";
import { toKey, type KeyStore, type TenantKeyRow } from "./keystore.js";

export function moveKeysToKeystore(handle: BetterSqlite3.Database, keystore: KeyStore): void {
  const legacy = handle.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'tenant_keys'").get();
  if (!legacy) return;
  const keys = handle.prepare<[], TenantKeyRow>("SELECT tenant_id, version, master_label, wrapped, status, created_at FROM tenant_keys WHERE tenant_id IS NOT NULL").all().map(toKey);
  keystore.adopt(keys);
  for (const key of keys) {
    const copy = keystore.listTenantKeys(key.tenantId).find((k) => k.version === key.version);
    if (!copy || !Buffer.from(copy.wrapped).equals(Buffer.from(key.wrapped)) || copy.masterLabel !== key.masterLabel) {
      throw new Error(`keystore copy of tenant ${key.tenantId} key version ${key.version} differs; refusing to continue`);
    }
  }
}
