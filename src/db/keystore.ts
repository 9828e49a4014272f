/**
 * The keystore: wrapped tenant data keys in a SQLite file of their own (datasheet 2.2: keys stored
 * separately from data). The data database and its backups hold only ciphertext; destroying a
 * tenant's keys here (crypto-shredding) makes that ciphertext unreadable everywhere, including in
 * earlier data backups. Plaintext keys never reach this module: src/crypto wraps them first.
 */
import type BetterSqlite3 from "better-sqlite3";
import type { StoredTenantKey, TenantKeyStore } from "../crypto/tenant-key-store.js";
import { migrate } from "./migrate.js";
import { keystoreMigrations } from "./migrations/index.js";
import { openSqlite } from "./sqlite.js";

export interface TenantKeyRow {
  tenant_id: string;
  version: number;
  master_label: string;
  wrapped: Buffer;
  status: "active" | "retired";
  created_at: string;
}

const COLUMNS = "tenant_id, version, master_label, wrapped, status, created_at";

export function toKey(row: TenantKeyRow): StoredTenantKey {
  return { tenantId: row.tenant_id, version: row.version, masterLabel: row.master_label, wrapped: new Uint8Array(row.wrapped), status: row.status, createdAt: row.created_at };
}

export class KeyStore implements TenantKeyStore {
  private constructor(private readonly handle: BetterSqlite3.Database) {}

  static open(file: string, options: { readonly?: boolean; now: () => string }): KeyStore {
    const handle = openSqlite(file, options.readonly ?? false);
    try {
      if (!options.readonly) migrate(handle, keystoreMigrations, options.now);
    } catch (error) {
      handle.close();
      throw error;
    }
    return new KeyStore(handle);
  }

  listTenantKeys(tenantId: string): StoredTenantKey[] {
    return this.handle.prepare<[string], TenantKeyRow>(`SELECT ${COLUMNS} FROM tenant_keys WHERE tenant_id = ? ORDER BY version`).all(tenantId).map(toKey);
  }

  insertTenantKey(key: StoredTenantKey): void {
    this.handle
      .prepare(`INSERT INTO tenant_keys (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)`)
      .run(key.tenantId, key.version, key.masterLabel, Buffer.from(key.wrapped), key.status, key.createdAt);
  }

  /** Adds keys that are not there yet (same tenant and version); used once to move keys out of the data database. */
  adopt(keys: readonly StoredTenantKey[]): void {
    const insert = this.handle.prepare(`INSERT OR IGNORE INTO tenant_keys (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)`);
    this.handle.transaction(() => {
      for (const k of keys) insert.run(k.tenantId, k.version, k.masterLabel, Buffer.from(k.wrapped), k.status, k.createdAt);
    }).immediate();
  }

  /** Every key's metadata (never the wrapped bytes), for the key status report. */
  summary(): { tenantId: string; version: number; masterLabel: string; status: string; createdAt: string }[] {
    return this.handle
      .prepare<[], { tenant_id: string; version: number; master_label: string; status: string; created_at: string }>("SELECT tenant_id, version, master_label, status, created_at FROM tenant_keys ORDER BY tenant_id, version")
      .all()
      .map((r) => ({ tenantId: r.tenant_id, version: r.version, masterLabel: r.master_label, status: r.status, createdAt: r.created_at }));
  }

  /** Crypto-shredding: every key of the tenant is overwritten and removed, and the WAL folded in so no copy lingers. */
  destroyTenantKeys(tenantId: string): number {
    const removed = this.handle.prepare("DELETE FROM tenant_keys WHERE tenant_id = ?").run(tenantId).changes;
    this.handle.pragma("wal_checkpoint(TRUNCATE)");
    return removed;
  }

  integrityCheck(): string[] {
    return (this.handle.pragma("integrity_check") as { integrity_check: string }[]).map((r) => r.integrity_check).filter((m) => m !== "ok");
  }

  close(): void {
    if (!this.handle.open) return;
    if (!this.handle.readonly) this.handle.pragma("wal_checkpoint(TRUNCATE)");
    this.handle.close();
  }
}
