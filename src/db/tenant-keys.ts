/** Wrapped tenant data keys. Plaintext keys never reach this module: src/crypto wraps them first. */
import type BetterSqlite3 from "better-sqlite3";
import type { StoredTenantKey, TenantKeyStore } from "../crypto/tenant-key-store.js";

interface TenantKeyRow {
  tenant_id: string;
  version: number;
  master_label: string;
  wrapped: Buffer;
  status: "active" | "retired";
  created_at: string;
}

function toKey(row: TenantKeyRow): StoredTenantKey {
  return {
    tenantId: row.tenant_id,
    version: row.version,
    masterLabel: row.master_label,
    wrapped: new Uint8Array(row.wrapped),
    status: row.status,
    createdAt: row.created_at,
  };
}

export class TenantKeyRepository implements TenantKeyStore {
  constructor(
    private readonly handle: BetterSqlite3.Database,
    private readonly transact: <T>(fn: () => T) => T,
  ) {}

  listTenantKeys(tenantId: string): StoredTenantKey[] {
    return this.handle
      .prepare<[string], TenantKeyRow>(
        "SELECT tenant_id, version, master_label, wrapped, status, created_at FROM tenant_keys WHERE tenant_id = ? ORDER BY version",
      )
      .all(tenantId)
      .map(toKey);
  }

  insertTenantKey(key: StoredTenantKey): void {
    this.transact(() =>
      this.handle
        .prepare(
          "INSERT INTO tenant_keys (tenant_id, version, master_label, wrapped, status, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .run(key.tenantId, key.version, key.masterLabel, Buffer.from(key.wrapped), key.status, key.createdAt),
    );
  }
}
