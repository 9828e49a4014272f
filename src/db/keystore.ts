/**
 * The keystore: wrapped tenant data keys in a SQLite file of their own (datasheet 2.2: keys stored
 * separately from data). The data database holds only ciphertext; destroying a tenant's keys here
 * (crypto-shredding) makes that ciphertext unreadable everywhere. Plaintext keys never reach this
 * module: src/crypto wraps them first.
 */
import { dirname } from "node:path";
import type BetterSqlite3 from "better-sqlite3";
import { MasterKeyRetiredError, type KeyWrap, type StoredTenantKey, type TenantKeyStore } from "../crypto/index.js";
import { migrate, schemaVersion } from "./migrate.js";
import { keystoreMigrations } from "./migrations/index.js";
import { openSqlite } from "./sqlite.js";
import { StorageState } from "./storage.js";
import { statement } from "./statements.js";

interface TenantKeyRow {
  tenant_id: string;
  version: number;
  status: "active" | "retired";
  encryptions: number;
  created_at: string;
}

interface WrapRow {
  version: number;
  master_label: string;
  wrapped: Buffer;
}

/** A key as it was stored before wraps had a table of their own (the data database before 0005). */
export interface LegacyTenantKey {
  readonly tenantId: string;
  readonly version: number;
  readonly masterLabel: string;
  readonly wrapped: Uint8Array;
  readonly status: "active" | "retired";
  readonly createdAt: string;
}

export interface MasterKeyRecord {
  readonly label: string;
  readonly version: number;
  readonly kind: "env" | "pkcs11";
  readonly createdAt: string;
  readonly retiredAt: string | null;
  /** Data keys wrapped under it now. */
  readonly wraps: number;
}

/** A data key's metadata, never its wrapped bytes: what the key status may show. */
export interface TenantKeySummary {
  readonly tenantId: string;
  readonly version: number;
  readonly status: "active" | "retired";
  readonly encryptions: number;
  readonly masterLabels: readonly string[];
  readonly createdAt: string;
  readonly unusedSince: string | null;
  readonly retiredAt: string | null;
}

/** One data-key version, by owner (a tenant id, or "_platform"/"_signing") and version. */
export interface DataKeyRef {
  readonly tenantId: string;
  readonly version: number;
}

/** The master keys the server running on this data directory uses (recorded at its start). */
export interface ServingRecord {
  readonly pid: number;
  readonly currentLabel: string;
  readonly loadedLabels: readonly string[];
  readonly startedAt: string;
}

/**
 * Retiring the master key would leave these active data keys with no wrap under any other
 * registered, non-retired master key: they would become unreadable once the key is destroyed.
 */
export class StrandingRetirementError extends Error {
  override readonly name = "StrandingRetirementError";
  constructor(
    readonly masterLabel: string,
    readonly stranded: readonly DataKeyRef[],
  ) {
    super(`retiring master key ${masterLabel} would strand ${stranded.length} data key(s)`);
  }
}

const KEY_COLUMNS = "tenant_id, version, status, encryptions, created_at";

/** Two texts, not one built from a flag: only static SQL goes to the statement cache (statements.ts). */
const INSERT_WRAP =
  "INSERT INTO key_wraps (tenant_id, version, master_label, wrapped, created_at) VALUES (?, ?, ?, ?, ?)";
const INSERT_WRAP_IF_NEW =
  "INSERT OR IGNORE INTO key_wraps (tenant_id, version, master_label, wrapped, created_at) VALUES (?, ?, ?, ?, ?)";

/**
 * Active data keys (k) with no wrap under a registered, non-retired master key other than @excluded
 * and within the label list @labels (a JSON array; null: any label).
 */
const WITHOUT_USABLE_WRAP = `k.status = 'active' AND NOT EXISTS (
  SELECT 1 FROM key_wraps w JOIN master_keys m ON m.label = w.master_label
  WHERE w.tenant_id = k.tenant_id AND w.version = k.version AND m.retired_at IS NULL
    AND w.master_label IS NOT @excluded
    AND (@labels IS NULL OR w.master_label IN (SELECT value FROM json_each(@labels))))`;

export class KeyStore implements TenantKeyStore {
  private constructor(
    private readonly handle: BetterSqlite3.Database,
    /** Every change goes through storage.write: a full disk becomes StorageFullError (storage.ts). */
    private readonly storage: StorageState,
  ) {}

  /** `storage` is shared with the database beside it (one disk); default: its own, for this file's directory. */
  static open(file: string, options: { readonly?: boolean; now: () => string; storage?: StorageState }): KeyStore {
    const handle = openSqlite(file, options.readonly ?? false);
    try {
      if (!options.readonly) migrate(handle, keystoreMigrations, options.now);
    } catch (error) {
      handle.close();
      throw error;
    }
    return new KeyStore(handle, options.storage ?? new StorageState(dirname(file)));
  }

  /** One IMMEDIATE transaction, through the storage guard. */
  private transact<T>(fn: () => T): T {
    return this.storage.write(() => this.handle.transaction(fn).immediate());
  }

  listTenantKeys(tenantId: string): StoredTenantKey[] {
    const keys = statement<[string], TenantKeyRow>(
      this.handle,
      `SELECT ${KEY_COLUMNS} FROM tenant_keys WHERE tenant_id = ? ORDER BY version`,
    ).all(tenantId);
    const wraps = statement<[string], WrapRow>(
      this.handle,
      "SELECT version, master_label, wrapped FROM key_wraps WHERE tenant_id = ? ORDER BY created_at, master_label",
    ).all(tenantId);
    return keys.map((k) => ({
      tenantId: k.tenant_id,
      version: k.version,
      status: k.status,
      encryptions: k.encryptions,
      createdAt: k.created_at,
      wraps: wraps
        .filter((w) => w.version === k.version)
        .map((w) => ({ masterLabel: w.master_label, wrapped: new Uint8Array(w.wrapped) })),
    }));
  }

  /** Every tenant (and reserved id) that has keys. */
  keyOwners(): string[] {
    return statement<[], { tenant_id: string }>(
      this.handle,
      "SELECT DISTINCT tenant_id FROM tenant_keys ORDER BY tenant_id",
    )
      .all()
      .map((r) => r.tenant_id);
  }

  /**
   * Wraps under a retired master key are left out, checked inside the write transaction: a process
   * still running on a key another process retired meanwhile cannot slip one in. With no wrap
   * left, nothing is stored and MasterKeyRetiredError names the retired key.
   */
  insertTenantKey(key: { tenantId: string; version: number; wraps: readonly KeyWrap[]; createdAt: string }): void {
    this.transact(() => {
      const wraps = this.withoutRetired(key.wraps);
      const first = key.wraps[0];
      if (wraps.length === 0 && first !== undefined) throw new MasterKeyRetiredError(first.masterLabel);
      statement(
        this.handle,
        "INSERT INTO tenant_keys (tenant_id, version, status, created_at) VALUES (?, ?, 'active', ?)",
      ).run(key.tenantId, key.version, key.createdAt);
      this.insertWraps(key.tenantId, key.version, wraps, key.createdAt, false);
    });
  }

  /** Wraps under a retired master key are left out (checked inside the transaction, as above). */
  addWraps(entries: readonly { tenantId: string; version: number; wraps: readonly KeyWrap[] }[]): void {
    const now = new Date().toISOString();
    this.transact(() => {
      for (const e of entries) this.insertWraps(e.tenantId, e.version, this.withoutRetired(e.wraps), now, true);
    });
  }

  private withoutRetired(wraps: readonly KeyWrap[]): KeyWrap[] {
    const retired = this.retiredMasterLabels();
    return wraps.filter((w) => !retired.has(w.masterLabel));
  }

  private insertWraps(
    tenantId: string,
    version: number,
    wraps: readonly KeyWrap[],
    createdAt: string,
    ignoreExisting: boolean,
  ): void {
    const insert = statement(this.handle, ignoreExisting ? INSERT_WRAP_IF_NEW : INSERT_WRAP);
    for (const w of wraps) insert.run(tenantId, version, w.masterLabel, Buffer.from(w.wrapped), createdAt);
  }

  reserveEncryptions(tenantId: string, version: number, count: number): number {
    const row = this.storage.write(() =>
      statement<[number, string, number], { encryptions: number }>(
        this.handle,
        "UPDATE tenant_keys SET encryptions = encryptions + ? " +
          "WHERE tenant_id = ? AND version = ? " +
          "RETURNING encryptions",
      ).get(count, tenantId, version),
    );
    if (!row) throw new Error(`no data key ${tenantId} version ${version} to count encryptions for`);
    return row.encryptions;
  }

  retiredMasterLabels(): ReadonlySet<string> {
    return new Set(
      statement<[], { label: string }>(this.handle, "SELECT label FROM master_keys WHERE retired_at IS NOT NULL")
        .all()
        .map((r) => r.label),
    );
  }

  /** Records a master key the installation uses; returns its version (existing or new). */
  registerMaster(label: string, kind: "env" | "pkcs11", now: string): number {
    return this.transact(() => {
      const existing = statement<[string], { version: number }>(
        this.handle,
        "SELECT version FROM master_keys WHERE label = ?",
      ).get(label);
      if (existing) return existing.version;
      const next =
        (statement<[], { v: number | null }>(this.handle, "SELECT max(version) AS v FROM master_keys").get()?.v ?? 0) +
        1;
      statement(this.handle, "INSERT INTO master_keys (label, version, kind, created_at) VALUES (?, ?, ?, ?)").run(
        label,
        next,
        kind,
        now,
      );
      return next;
    });
  }

  masters(): MasterKeyRecord[] {
    return statement<
      [],
      {
        label: string;
        version: number;
        kind: "env" | "pkcs11";
        created_at: string;
        retired_at: string | null;
        wraps: number;
      }
    >(
      this.handle,
      "SELECT m.label, m.version, m.kind, m.created_at, m.retired_at, (SELECT count(*) " +
        "FROM key_wraps w WHERE w.master_label = m.label) AS wraps " +
        "FROM master_keys m ORDER BY m.version",
    )
      .all()
      .map((r) => ({
        label: r.label,
        version: r.version,
        kind: r.kind,
        createdAt: r.created_at,
        retiredAt: r.retired_at,
        wraps: r.wraps,
      }));
  }

  /**
   * Removes every wrap under a master key and marks it retired (again: an already retired key
   * loses wraps written under it since). Refuses with StrandingRetirementError while any active
   * data key is wrapped under no other registered, non-retired master key. The check, the
   * deletion and the mark are one write transaction: SQLite serializes writers, so no wrap
   * another process writes can fall between them.
   */
  retireMaster(label: string, now: string): number {
    const removed = this.transact(() => {
      const stranded = statement<[{ excluded: string; labels: null }], { tenant_id: string; version: number }>(
        this.handle,
        `SELECT k.tenant_id, k.version FROM tenant_keys k WHERE ${WITHOUT_USABLE_WRAP}
             AND EXISTS (SELECT 1 FROM key_wraps w
                         WHERE w.tenant_id = k.tenant_id AND w.version = k.version AND w.master_label = @excluded)
           ORDER BY k.tenant_id, k.version`,
      ).all({ excluded: label, labels: null });
      if (stranded.length > 0)
        throw new StrandingRetirementError(
          label,
          stranded.map((r) => ({ tenantId: r.tenant_id, version: r.version })),
        );
      const n = statement(this.handle, "DELETE FROM key_wraps WHERE master_label = ?").run(label).changes;
      statement(this.handle, "UPDATE master_keys SET retired_at = ? WHERE label = ? AND retired_at IS NULL").run(
        now,
        label,
      );
      return n;
    });
    this.storage.write(() => this.handle.pragma("wal_checkpoint(TRUNCATE)"));
    return removed;
  }

  /**
   * Active data keys that no master key in `labels` can open: none of their wraps is under one of
   * those labels that is registered and not retired. A structural check (no unwrap), cheap enough
   * for /readyz.
   */
  keysWithoutUsableWrap(labels: readonly string[]): DataKeyRef[] {
    return statement<[{ excluded: null; labels: string }], { tenant_id: string; version: number }>(
      this.handle,
      `SELECT k.tenant_id, k.version FROM tenant_keys k WHERE ${WITHOUT_USABLE_WRAP} ORDER BY k.tenant_id, k.version`,
    )
      .all({ excluded: null, labels: JSON.stringify(labels) })
      .map((r) => ({ tenantId: r.tenant_id, version: r.version }));
  }

  /** Records the master keys of the server now starting on this data directory (replacing any earlier record). */
  recordServing(record: ServingRecord): void {
    this.transact(() => {
      statement(
        this.handle,
        "INSERT OR REPLACE INTO serving (id, pid, current_label, loaded_labels, started_at) VALUES (1, ?, ?, ?, ?)",
      ).run(record.pid, record.currentLabel, JSON.stringify(record.loadedLabels), record.startedAt);
    });
  }

  /** Removes the record at a clean stop (only the process's own). */
  clearServing(pid: number): void {
    this.transact(() => statement(this.handle, "DELETE FROM serving WHERE pid = ?").run(pid));
  }

  /** The last server's record; whether it still runs is for the caller to tell (vecto.lock). */
  servingRecord(): ServingRecord | null {
    // A keystore opened read-only (vecto doctor) may predate migration 0003: then no server recorded anything.
    if (
      statement(this.handle, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'serving'").get() ===
      undefined
    )
      return null;
    const row = statement<[], { pid: number; current_label: string; loaded_labels: string; started_at: string }>(
      this.handle,
      "SELECT pid, current_label, loaded_labels, started_at FROM serving WHERE id = 1",
    ).get();
    if (row === undefined) return null;
    return {
      pid: row.pid,
      currentLabel: row.current_label,
      loadedLabels: JSON.parse(row.loaded_labels) as string[],
      startedAt: row.started_at,
    };
  }

  /** Re-encryption found nothing sealed under this version since `since` (null: it found something). */
  markUnused(tenantId: string, version: number, since: string | null): void {
    this.storage.write(() =>
      statement(
        this.handle,
        "UPDATE tenant_keys SET unused_since = ? WHERE tenant_id = ? AND version = ? AND status = 'active'",
      ).run(since, tenantId, version),
    );
  }

  /** Destroys one data-key version's wraps: whatever it sealed becomes unreadable. */
  retireVersion(tenantId: string, version: number, now: string): void {
    this.transact(() => {
      statement(this.handle, "DELETE FROM key_wraps WHERE tenant_id = ? AND version = ?").run(tenantId, version);
      statement(
        this.handle,
        "UPDATE tenant_keys SET status = 'retired', retired_at = ? WHERE tenant_id = ? AND version = ?",
      ).run(now, tenantId, version);
    });
    this.storage.write(() => this.handle.pragma("wal_checkpoint(TRUNCATE)"));
  }

  /** Adds keys that are not there yet (same tenant and version); used once to move keys out of the data database. */
  adopt(keys: readonly LegacyTenantKey[]): void {
    const insertKey = statement(
      this.handle,
      "INSERT OR IGNORE INTO tenant_keys (tenant_id, version, status, created_at) VALUES (?, ?, ?, ?)",
    );
    const insertWrap = statement(
      this.handle,
      "INSERT OR IGNORE INTO key_wraps (tenant_id, version, master_label, wrapped, created_at) VALUES (?, ?, ?, ?, ?)",
    );
    const register = statement(
      this.handle,
      "INSERT OR IGNORE INTO master_keys (label, version, kind, created_at) " +
        "VALUES (?, (SELECT coalesce(max(version), 0) + 1 " +
        "FROM master_keys), ?, ?)",
    );
    this.transact(() => {
      for (const k of keys) {
        insertKey.run(k.tenantId, k.version, k.status, k.createdAt);
        insertWrap.run(k.tenantId, k.version, k.masterLabel, Buffer.from(k.wrapped), k.createdAt);
        register.run(k.masterLabel, k.masterLabel.startsWith("pkcs11:") ? "pkcs11" : "env", k.createdAt);
      }
    });
  }

  /** Every key's metadata (never the wrapped bytes), for the key status report. */
  summary(): TenantKeySummary[] {
    const wraps = statement<[], { tenant_id: string; version: number; master_label: string }>(
      this.handle,
      "SELECT tenant_id, version, master_label FROM key_wraps ORDER BY master_label",
    ).all();
    return statement<[], TenantKeyRow & { unused_since: string | null; retired_at: string | null }>(
      this.handle,
      `SELECT ${KEY_COLUMNS}, unused_since, retired_at FROM tenant_keys ORDER BY tenant_id, version`,
    )
      .all()
      .map((r) => ({
        tenantId: r.tenant_id,
        version: r.version,
        status: r.status,
        encryptions: r.encryptions,
        masterLabels: wraps
          .filter((w) => w.tenant_id === r.tenant_id && w.version === r.version)
          .map((w) => w.master_label),
        createdAt: r.created_at,
        unusedSince: r.unused_since,
        retiredAt: r.retired_at,
      }));
  }

  /** Crypto-shredding: every key of the tenant is overwritten and removed, and the WAL folded in so no copy lingers. */
  destroyTenantKeys(tenantId: string): number {
    const removed = this.transact(() => {
      statement(this.handle, "DELETE FROM key_wraps WHERE tenant_id = ?").run(tenantId);
      return statement(this.handle, "DELETE FROM tenant_keys WHERE tenant_id = ?").run(tenantId).changes;
    });
    this.storage.write(() => this.handle.pragma("wal_checkpoint(TRUNCATE)"));
    return removed;
  }

  /** The newest keystore migration applied (0: none). */
  schemaVersion(): number {
    return schemaVersion(this.handle);
  }

  integrityCheck(): string[] {
    return (this.handle.pragma("integrity_check") as { integrity_check: string }[])
      .map((r) => r.integrity_check)
      .filter((m) => m !== "ok");
  }

  /** Folds the WAL in and closes; the handle is closed even when the fold fails (a full disk keeps the WAL). */
  close(): void {
    if (!this.handle.open) return;
    try {
      if (!this.handle.readonly) this.handle.pragma("wal_checkpoint(TRUNCATE)");
    } finally {
      this.handle.close();
    }
  }
}
