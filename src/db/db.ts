/**
 * The database: one SQLite file, opened with durable settings, migrated at open.
 *
 * This folder is the only place that holds the better-sqlite3 handle or writes SQL. Reads are
 * plain methods; every change goes through `write()`, the single write path (and the place where
 * group commit will batch concurrent requests into one durable transaction).
 */
import { randomUUID } from "node:crypto";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import type BetterSqlite3 from "better-sqlite3";
import { KeyStore } from "./keystore.js";
import { readTogether, type ReadTogether } from "./read-transaction.js";
import { openSqlite } from "./sqlite.js";
import { moveKeysToKeystore } from "./keystore-move.js";
import { migrate, schemaVersion } from "./migrate.js";
import { migrations } from "./migrations/index.js";
import { SetupTokenRepository } from "./repositories/setup-tokens.js";
import { tenantBookkeeping, type TenantDb, type TenantTx } from "./tenant-db.js";
import { only, tenantReads, tenantRepositories, type TenantReads } from "./tenant-repositories.js";
import { TenantRepository } from "./repositories/tenants.js";
import { CredentialLookup } from "./repositories/credential-lookup.js";
import { JwtKeyRepository } from "./repositories/jwt-keys.js";
import { LoginThrottleRepository } from "./repositories/login-throttle.js";
import { AuditRepository, type AuditPosition, type AuditSealer, type CheckpointRow } from "./repositories/audit-log.js";
import { LicensingRepository } from "./repositories/licensing.js";
import { UsageCountRepository } from "./repositories/usage-counts.js";
import { isStorageFull, StorageFullError, StorageState } from "./storage.js";
import { WritePath, type Committed, type TransactionBase } from "./write-path.js";
import { WalSync, type Durability, type SyncCalls } from "./wal-sync.js";
import { RowWatch } from "./row-watch.js";
import { PLATFORM_LOG, type DomainEvent } from "../vocabulary/events.js";
import type { TenantScope } from "./tenant-scope.js";
import { statement } from "./statements.js";

export interface OpenOptions {
  /** Where the wrapped tenant keys live; default keys.db beside the database. */
  readonly keystoreFile?: string;
  /** Clock for recorded timestamps; tests pass a fixed one. */
  readonly now?: () => Date;
  readonly readonly?: boolean;
  /**
   * "full" (default): a write is acknowledged once its commit is on disk. "normal": once it is
   * committed; a power loss may take the last commits back (VECTO_SQLITE_SYNCHRONOUS, wal-sync.ts).
   */
  readonly durability?: Durability;
  /** The fsync calls, for tests that hold one back; default node:fs. */
  readonly syncCalls?: SyncCalls;
}

/** What a platform write transaction may change: the installation's own tables, and (for system work) one tenant's. */
export interface PlatformTx extends TransactionBase {
  readonly setupTokens: SetupTokenRepository;
  readonly tenants: TenantRepository;
  readonly licensing: LicensingRepository;
  /** Erasing a tenant forgets its login counters too. */
  readonly loginThrottle: Pick<LoginThrottleRepository, "clearTenant">;
  /**
   * One tenant's repositories inside this platform transaction, for work no request scopes: a
   * tenant created with its first admin, a restore erasing again, re-encryption.
   */
  tenant(tenantId: string): TenantTx;
}

/**
 * What follows an event into its transaction, decided outside the database (src/notify makes a
 * user's notifications from it, src/audit logs it once committed): called after the event's row
 * is appended, with that tenant's repositories (undefined for an event of the platform log).
 */
export type EventFollower = (event: DomainEvent, position: AuditPosition, tx: TenantTx | undefined) => void;

/**
 * The platform writes that are not actions, each with the only repository it may touch: none
 * reaches tenant data, and none needs an audit event (the action they serve has its own, or they
 * record no action at all). A tenant's own such writes: TenantBookkeeping (tenant-db.ts).
 */
export interface Bookkeeping {
  /** Login failure counters (auth/throttle.ts). */
  readonly "login-throttle": { readonly loginThrottle: LoginThrottleRepository };
  /** The JWT key ring's ids and ages (auth/jwt.ts). */
  readonly "jwt-key-ring": { readonly jwtKeys: JwtKeyRepository };
  /** The clock's high-water mark and the license state last seen (license/license.ts). */
  readonly "license-marks": { readonly licensing: Pick<LicensingRepository, "meta" | "setMeta"> };
  /** The one-time setup token (auth/setup-token.ts). */
  readonly "setup-token": { readonly setupTokens: Pick<SetupTokenRepository, "replace"> };
}

export type BookkeepingKind = keyof Bookkeeping;

/** The audit log of the installation itself, named in the vocabulary (src/server reads it there). */
export { PLATFORM_LOG };

/** The keystore file that goes with a database file. */
export function keystorePath(databaseFile: string): string {
  return join(dirname(databaseFile), "keys.db");
}

/** Doors kept built at most; past it the cache starts again (an installation has far fewer tenants). */
const MAX_CACHED_DOORS = 10_000;

export class DatabaseOpenError extends Error {
  override readonly name = "DatabaseOpenError";
}

export class Database {
  readonly tenants: Pick<TenantRepository, "get" | "getBySlug" | "platformTenant" | "list" | "plaintextNames">;
  readonly jwtKeys: Pick<JwtKeyRepository, "list">;
  readonly loginThrottle: Pick<LoginThrottleRepository, "get">;
  readonly setupTokens: Pick<SetupTokenRepository, "isValid">;
  /** Which tenant a presented credential belongs to: for src/auth alone (credential-lookup.ts). */
  readonly credentials: CredentialLookup;
  /** Reading the audit logs, any of them by id (appending goes through a transaction's audit()). */
  readonly auditLog: Pick<
    AuditRepository,
    "page" | "leafHashes" | "filtered" | "size" | "logIds" | "latestCheckpoint" | "checkpoints"
  >;
  /** Installed licenses, the clock's high-water mark, usage snapshots (changes go through write()). */
  readonly licensing: Pick<
    LicensingRepository,
    | "currentLicense"
    | "currentSequence"
    | "licenseHistory"
    | "meta"
    | "rollbacksAfter"
    | "lastSnapshot"
    | "lastSnapshotBefore"
    | "snapshotForDay"
    | "snapshotsBetween"
    | "latestAuditTime"
  >;
  /**
   * Which customer tenants there are, for license limits and usage snapshots (each one's counts:
   * tenantReads(id).usage).
   */
  readonly usageCounts: UsageCountRepository;
  /** Changes of the rows authentication and the license gate serve from memory (row-watch.ts). */
  readonly watchedRows: RowWatch;
  private readonly platform: {
    readonly setupTokens: SetupTokenRepository;
    readonly tenants: TenantRepository;
    readonly licensing: LicensingRepository;
    readonly jwtKeys: JwtKeyRepository;
    readonly loginThrottle: LoginThrottleRepository;
    readonly audit: AuditRepository;
  };
  private readonly writes: WritePath;
  private auditSealer: AuditSealer | undefined;
  private readonly followers: EventFollower[] = [];
  private closed = false;
  /** Each tenant's door, built on first use (forTenant). */
  private readonly doors = new Map<string, TenantDb>();
  /** A request's reads in one read transaction (TenantDb.read). */
  private readonly readTogether: ReadTogether;

  private constructor(
    private readonly handle: BetterSqlite3.Database,
    /** Wrapped tenant keys, in their own file (see keystore.ts). */
    readonly keystore: KeyStore,
    private readonly clock: () => Date,
    /** Whether the disk has room: fed by every write of the database and the keystore. */
    private readonly storage: StorageState,
    /** When a commit is on disk (wal-sync.ts). */
    private readonly walSync: WalSync,
  ) {
    this.platform = {
      setupTokens: new SetupTokenRepository(handle),
      tenants: new TenantRepository(handle),
      licensing: new LicensingRepository(handle),
      jwtKeys: new JwtKeyRepository(handle),
      loginThrottle: new LoginThrottleRepository(handle),
      audit: new AuditRepository(handle),
    };
    ({
      tenants: this.tenants,
      jwtKeys: this.jwtKeys,
      loginThrottle: this.loginThrottle,
      setupTokens: this.setupTokens,
      licensing: this.licensing,
      audit: this.auditLog,
    } = this.platform);
    this.credentials = new CredentialLookup(handle);
    this.usageCounts = new UsageCountRepository(handle);
    this.writes = new WritePath(handle, storage, walSync, () => this.closed);
    this.watchedRows = new RowWatch(handle, (fn) => this.writes.atCommit(fn));
    this.readTogether = readTogether(handle);
  }

  /** Opens (creating if needed) and migrates the database file and its keystore (default: keys.db beside it). */
  static open(file: string, options: OpenOptions = {}): Database {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const readonly = options.readonly ?? false;
    const clock = options.now ?? (() => new Date());
    const now = (): string => clock().toISOString();
    let handle: BetterSqlite3.Database;
    let keystore: KeyStore;
    const storage = new StorageState(dirname(file));
    try {
      // NORMAL: the commit's fsync is WalSync's, off the event loop (docs/adr/0008-fsync-off-the-event-loop.md).
      handle = openSqlite(file, readonly, "NORMAL");
    } catch (error) {
      throw new DatabaseOpenError(`cannot open database ${file}: ${(error as Error).message}`);
    }
    try {
      keystore = KeyStore.open(options.keystoreFile ?? keystorePath(file), { readonly, now, storage });
    } catch (error) {
      handle.close();
      throw new DatabaseOpenError(`cannot open keystore beside ${file}: ${(error as Error).message}`);
    }
    const walSync = new WalSync(`${file}-wal`, options.durability ?? "full", options.syncCalls);
    const db = new Database(handle, keystore, clock, storage, walSync);
    try {
      if (!readonly) db.migrate();
    } catch (error) {
      keystore.close();
      handle.close();
      throw error;
    }
    return db;
  }

  private migrate(): void {
    moveKeysToKeystore(this.handle, this.keystore);
    migrate(this.handle, migrations, () => this.clock().toISOString());
    this.ensureInstallation();
  }

  /** The engine's own row (not an action of anyone): outside the audited path. */
  private ensureInstallation(): void {
    this.writes.run(false, () => {
      statement(
        this.handle,
        "INSERT OR IGNORE INTO installation (id, installation_id, created_at) VALUES (1, ?, ?)",
      ).run(randomUUID(), this.clock().toISOString());
    });
  }

  /** Runs fn once the open write transaction has committed (never, if it rolls back); at once outside one. */
  afterCommit(fn: () => void): void {
    this.writes.afterCommit(fn);
  }

  /** The hook after each commit that appended audit events, with the logs they went to (write-path.ts). */
  onCommitted(listener: (committed: Committed) => void): void {
    this.writes.onCommitted(listener);
  }

  /** The single write path for platform-level changes (contract: write-path.ts). */
  async write<T>(fn: (tx: PlatformTx) => T): Promise<T> {
    return this.writes.enqueue(true, () => fn(this.platformTx(this.clock().toISOString())));
  }

  /** A platform write that is not an action: one of the named kinds, with only its repository (see Bookkeeping). */
  async bookkeep<K extends BookkeepingKind, T>(
    kind: K,
    fn: (tx: Bookkeeping[K] & { readonly now: string }) => T,
  ): Promise<T> {
    return this.writes.enqueue(false, () => fn({ ...this.bookkeeping(kind), now: this.clock().toISOString() }));
  }

  /** The data of one tenant, reachable only with a scope minted by authentication. */
  forTenant(scope: TenantScope): TenantDb {
    const tenantId = scope.tenantId;
    let door = this.doors.get(tenantId);
    if (door === undefined) {
      // Built once per tenant and shared by its requests: it holds nothing but the tenant id and
      // this connection (building the repositories cost more than a read's query).
      if (this.doors.size >= MAX_CACHED_DOORS) this.doors.clear();
      door = this.tenantDoor(tenantId);
      this.doors.set(tenantId, door);
    }
    return door;
  }

  private tenantDoor(tenantId: string): TenantDb {
    return Object.freeze({
      ...tenantReads(this.handle, tenantId),
      tenantId,
      read: this.readTogether,
      write: async (fn) => this.writes.enqueue(true, () => fn(this.tenantTx(tenantId, this.clock().toISOString()))),
      erase: async (fn) => {
        const result = await this.writes.enqueue(true, () => fn(this.tenantTx(tenantId, this.clock().toISOString())));
        this.checkpoint();
        return result;
      },
      bookkeep: async (kind, fn) =>
        this.writes.enqueue(false, () =>
          fn({ ...tenantBookkeeping(this.handle, tenantId)[kind], now: this.clock().toISOString() }),
        ),
    });
  }

  /**
   * One tenant's reads for platform work that no request scopes (usage counts, key status,
   * re-encryption); only platform modules hold the Database (test/unit/architecture.test.ts).
   */
  tenantReads(tenantId: string): TenantReads {
    return tenantReads(this.handle, tenantId);
  }

  /** Events of this database also make what src/notify decides (services.ts registers it). */
  followEvents(follower: EventFollower): void {
    this.followers.push(follower);
  }

  private platformTx(now: string): PlatformTx {
    const { setupTokens, tenants, licensing, loginThrottle } = this.platform;
    return {
      setupTokens,
      tenants,
      licensing,
      loginThrottle,
      now,
      audit: (event) => this.audit(event),
      tenant: (tenantId) => this.tenantTx(tenantId, now),
    };
  }

  private tenantTx(tenantId: string, now: string): TenantTx {
    return {
      ...tenantRepositories(this.handle, tenantId),
      tenantId,
      now,
      // A tenant's transaction records events of that tenant only.
      audit: (event) => {
        if (event.tenantId !== tenantId) throw new Error("a tenant's transaction records only that tenant's events");
        this.audit(event);
      },
    };
  }

  private bookkeeping<K extends BookkeepingKind>(kind: K): Bookkeeping[K] {
    const { loginThrottle, jwtKeys, licensing, setupTokens } = this.platform;
    const all: Bookkeeping = {
      "login-throttle": { loginThrottle },
      "jwt-key-ring": { jwtKeys },
      "license-marks": { licensing: only(licensing, ["meta", "setMeta"]) },
      "setup-token": { setupTokens: only(setupTokens, ["replace"]) },
    };
    return all[kind];
  }

  installationId(): string {
    const row = statement<[], { installation_id: string }>(
      this.handle,
      "SELECT installation_id FROM installation WHERE id = 1",
    ).get();
    if (!row) throw new Error("installation row missing");
    return row.installation_id;
  }

  schemaVersion(): number {
    return schemaVersion(this.handle);
  }

  /** Audit rows are sealed (signed, hashed) by the audit module, which holds the HMAC key. */
  setAuditSealer(sealer: AuditSealer): void {
    this.auditSealer = sealer;
  }

  /**
   * Appends an audit event to its log: inside the caller's transaction when one is open (so the
   * change and its event commit together, or neither does), else as a write whose only change is
   * the event. Without a sealer nothing can be audited, and so nothing is written (fail closed).
   * Domain code records events with its transaction's `tx.audit(event)`; this is that, and the
   * path of events that have no change of their own (a failed login).
   */
  audit(event: DomainEvent): void {
    const sealer = this.auditSealer;
    if (!sealer) throw new Error("the audit trail is not ready; refusing to write without it");
    this.writes.run(true, () => {
      const logId = event.tenantId ?? PLATFORM_LOG;
      const now = this.clock().toISOString();
      const position: AuditPosition = {
        logId,
        seq: this.platform.audit.nextSeq(logId),
        vid: randomUUID(),
        timestamp: now,
      };
      this.platform.audit.append(sealer.seal(event, position));
      this.writes.audited(logId);
      const tenantTx = event.tenantId === null ? undefined : this.tenantTx(event.tenantId, now);
      for (const follow of this.followers) follow(event, position, tenantTx);
    });
  }

  /** Stores a signed checkpoint (idempotent per log and size): bookkeeping of the audit trail itself. */
  saveCheckpoint(row: CheckpointRow): void {
    this.writes.run(false, () => this.platform.audit.insertCheckpoint(row));
  }

  /** Folds the WAL into the database file now (after an erasure: no old page images stay in the WAL). */
  checkpoint(): void {
    this.storage.write(() => this.handle.pragma("wal_checkpoint(TRUNCATE)"));
  }

  /** Cheap liveness probe for /readyz. */
  ping(): void {
    statement(this.handle, "SELECT 1").get();
  }

  /**
   * For /readyz, without writing: throws StorageFullError while the disk has no room (see
   * storage.ts), StorageFailedError once a commit could not be made durable (wal-sync.ts).
   */
  checkStorage(): void {
    this.walSync.check();
    this.storage.check();
  }

  /**
   * A Promise for every commit made so far to be on disk, or undefined when they are: awaited
   * before what was read from the database leaves the process (a response, an export's chunk), so
   * nothing anyone has seen can be lost to a power cut (wal-sync.ts).
   */
  whenDurable(): Promise<void> | undefined {
    return this.walSync.pending();
  }

  /** Full `PRAGMA integrity_check`; returns the problems found (empty when healthy). */
  integrityCheck(): string[] {
    const rows = this.handle.pragma("integrity_check") as { integrity_check: string }[];
    return rows.map((r) => r.integrity_check).filter((msg) => msg !== "ok");
  }

  /**
   * Folds the WALs into their files and closes: afterwards each file is consistent on its own.
   * The handles are closed whatever happens; on a full disk the fold cannot be written, so this
   * throws StorageFullError afterwards: nothing is lost, the WAL keeps every commit and SQLite
   * folds it in at the next open.
   */
  close(): void {
    if (this.closed) return;
    // Writes queued for the next batch commit first: a write handed to the database is never dropped.
    this.writes.flush();
    // ... and are made durable and settled before the connection goes.
    this.walSync.drain();
    this.closed = true;
    let failure: unknown;
    try {
      if (!this.handle.readonly) {
        // Lets SQLite refresh the planner statistics it finds worth refreshing (cheap; recommended at close).
        this.handle.pragma("optimize");
        this.handle.pragma("wal_checkpoint(TRUNCATE)");
      }
    } catch (error) {
      failure = error;
    }
    this.handle.close();
    try {
      this.keystore.close();
    } catch (error) {
      failure ??= error;
    }
    if (failure === undefined) return;
    if (isStorageFull(failure))
      throw new StorageFullError(
        "the disk is full: the write-ahead logs were kept (every commit is in them) " +
          "and are folded in at the next start",
      );
    throw failure;
  }
}
