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
import { openSqlite } from "./sqlite.js";
import { moveKeysToKeystore } from "./keystore-move.js";
import { migrate, schemaVersion } from "./migrate.js";
import { migrations } from "./migrations/index.js";
import { SetupTokenRepository } from "./setup-tokens.js";
import { TenantDb } from "./tenant-db.js";
import { TenantRepository } from "./tenants.js";
import { UserRepository } from "./users.js";
import { SessionRepository } from "./sessions.js";
import { PasswordResetRepository } from "./password-resets.js";
import { PersonalTokenRepository } from "./personal-tokens.js";
import { JwtKeyRepository } from "./jwt-keys.js";
import { LoginThrottleRepository } from "./login-throttle.js";
import { ProjectRepository } from "./projects.js";
import { NodeRepository } from "./nodes.js";
import { EdgeRepository } from "./edges.js";
import { AuditRepository, type AuditSealer, type CheckpointRow } from "./audit-log.js";
import { NotificationRepository } from "./notifications.js";
import { SealedFieldRepository } from "./sealed-fields.js";
import { SecretRepository } from "./secrets.js";
import { LicensingRepository } from "./licensing.js";
import { UsageCountRepository } from "./usage-counts.js";
import { isStorageFull, StorageFullError, StorageState } from "./storage.js";
import type { DomainEvent } from "../vocabulary/events.js";
import type { TenantScope } from "./tenant-scope.js";

export interface OpenOptions {
  /** Where the wrapped tenant keys live; default keys.db beside the database. */
  readonly keystoreFile?: string;
  /** Clock for recorded timestamps; tests pass a fixed one. */
  readonly now?: () => Date;
  readonly readonly?: boolean;
}

/** The repositories, write methods included: only reachable inside `write()`. */
interface Repositories {
  readonly setupTokens: SetupTokenRepository;
  readonly tenants: TenantRepository;
  readonly users: UserRepository;
  readonly sessions: SessionRepository;
  readonly personalTokens: PersonalTokenRepository;
  readonly jwtKeys: JwtKeyRepository;
  readonly loginThrottle: LoginThrottleRepository;
  readonly projects: ProjectRepository;
  readonly nodes: NodeRepository;
  readonly edges: EdgeRepository;
  readonly audit: AuditRepository;
  readonly notifications: NotificationRepository;
  readonly sealedFields: SealedFieldRepository;
  readonly secrets: SecretRepository;
  readonly licensing: LicensingRepository;
  readonly passwordResets: PasswordResetRepository;
}

/** What a write transaction may change at platform level. */
export interface PlatformTx extends Repositories {
  readonly now: string;
}

/** The audit log of the installation itself (events of no tenant). */
export const PLATFORM_LOG = "_platform";

/** The keystore file that goes with a database file. */
export function keystorePath(databaseFile: string): string {
  return join(dirname(databaseFile), "keys.db");
}

export class DatabaseOpenError extends Error {
  override readonly name = "DatabaseOpenError";
}

export class Database {
  readonly tenants: Pick<TenantRepository, "get" | "getBySlug" | "platformTenant" | "list" | "plaintextNames">;
  readonly users: Pick<UserRepository, "get" | "findByEmail" | "list">;
  readonly sessions: Pick<SessionRepository, "get" | "listForUser" | "findRefreshToken">;
  readonly personalTokens: Pick<PersonalTokenRepository, "findByHash" | "get" | "listForUser">;
  readonly jwtKeys: Pick<JwtKeyRepository, "list">;
  readonly loginThrottle: Pick<LoginThrottleRepository, "get">;
  readonly setupTokens: Pick<SetupTokenRepository, "isValid">;
  readonly passwordResets: Pick<PasswordResetRepository, "findByHash">;
  /** Reading the audit logs (appending goes through audit()). */
  readonly auditLog: Pick<AuditRepository, "page" | "leafHashes" | "filtered" | "size" | "logIds" | "latestCheckpoint" | "checkpoints">;
  readonly notifications: Pick<NotificationRepository, "forUser">;
  /** Sealed values per data-key version, for re-encryption and the key status. */
  readonly sealedFields: Pick<SealedFieldRepository, "versionCounts" | "notUnder">;
  /** Installed licenses, the clock's high-water mark, usage snapshots (changes go through write()). */
  readonly licensing: Pick<LicensingRepository, "currentLicense" | "currentSequence" | "licenseHistory" | "meta" | "rollbacksAfter" | "lastSnapshot" | "lastSnapshotBefore" | "snapshotForDay" | "snapshotsBetween" | "latestAuditTime">;
  /** Counts (numbers only) for license limits and usage snapshots. */
  readonly usageCounts: UsageCountRepository;
  private readonly repositories: Repositories;
  private auditSealer: AuditSealer | undefined;
  private closed = false;
  /** Work to do once the open transaction commits (dropped when it rolls back). */
  private afterCommitQueue: (() => void)[] | undefined;

  private constructor(
    private readonly handle: BetterSqlite3.Database,
    /** Wrapped tenant keys, in their own file (see keystore.ts). */
    readonly keystore: KeyStore,
    private readonly clock: () => Date,
    /** Whether the disk has room: fed by every write of the database and the keystore. */
    private readonly storage: StorageState,
  ) {
    this.repositories = {
      setupTokens: new SetupTokenRepository(handle),
      tenants: new TenantRepository(handle),
      users: new UserRepository(handle),
      sessions: new SessionRepository(handle),
      personalTokens: new PersonalTokenRepository(handle),
      jwtKeys: new JwtKeyRepository(handle),
      loginThrottle: new LoginThrottleRepository(handle),
      projects: new ProjectRepository(handle),
      nodes: new NodeRepository(handle),
      edges: new EdgeRepository(handle),
      audit: new AuditRepository(handle),
      notifications: new NotificationRepository(handle),
      sealedFields: new SealedFieldRepository(handle),
      secrets: new SecretRepository(handle),
      licensing: new LicensingRepository(handle),
      passwordResets: new PasswordResetRepository(handle),
    };
    ({ tenants: this.tenants, users: this.users, sessions: this.sessions, personalTokens: this.personalTokens, jwtKeys: this.jwtKeys, loginThrottle: this.loginThrottle, setupTokens: this.setupTokens } = this.repositories);
    this.auditLog = this.repositories.audit;
    this.notifications = this.repositories.notifications;
    this.sealedFields = this.repositories.sealedFields;
    this.licensing = this.repositories.licensing;
    this.passwordResets = this.repositories.passwordResets;
    this.usageCounts = new UsageCountRepository(handle);
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
      handle = openSqlite(file, readonly);
    } catch (error) {
      throw new DatabaseOpenError(`cannot open database ${file}: ${(error as Error).message}`);
    }
    try {
      keystore = KeyStore.open(options.keystoreFile ?? keystorePath(file), { readonly, now, storage });
    } catch (error) {
      handle.close();
      throw new DatabaseOpenError(`cannot open keystore beside ${file}: ${(error as Error).message}`);
    }
    const db = new Database(handle, keystore, clock, storage);
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

  private ensureInstallation(): void {
    this.transact(() => {
      this.handle
        .prepare("INSERT OR IGNORE INTO installation (id, installation_id, created_at) VALUES (1, ?, ?)")
        .run(randomUUID(), this.clock().toISOString());
    });
  }

  /**
   * Runs fn in one IMMEDIATE transaction; the sole write path. A full disk rolls it back and
   * surfaces as StorageFullError; what fn queued with afterCommit runs only once it committed.
   */
  private transact<T>(fn: () => T): T {
    if (this.closed) throw new Error("database is closed");
    if (this.handle.inTransaction) return fn();
    const queue: (() => void)[] = [];
    this.afterCommitQueue = queue;
    let result: T;
    try {
      result = this.storage.write(() => this.handle.transaction(fn).immediate());
    } finally {
      this.afterCommitQueue = undefined;
    }
    for (const run of queue) run();
    return result;
  }

  /** Runs fn once the open write transaction has committed (never, if it rolls back); at once outside one. */
  afterCommit(fn: () => void): void {
    if (this.afterCommitQueue === undefined) fn();
    else this.afterCommitQueue.push(fn);
  }

  /** The single write path for platform-level changes. Resolves after the transaction committed. */
  async write<T>(fn: (tx: PlatformTx) => T): Promise<T> {
    return this.transact(() => fn({ ...this.repositories, now: this.clock().toISOString() }));
  }

  /** The data of one tenant, reachable only with a scope minted by authentication. */
  forTenant(scope: TenantScope): TenantDb {
    return new TenantDb(this.repositories, scope.tenantId, (fn) => this.transact(fn), () => this.clock().toISOString(), () => this.checkpoint());
  }

  installationId(): string {
    const row = this.handle.prepare<[], { installation_id: string }>("SELECT installation_id FROM installation WHERE id = 1").get();
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
   * change and its event commit together, or neither does), else in one of its own. Without a
   * sealer nothing can be audited, and so nothing is written (fail closed).
   */
  audit(event: DomainEvent): void {
    const sealer = this.auditSealer;
    if (!sealer) throw new Error("the audit trail is not ready; refusing to write without it");
    this.transact(() => {
      const logId = event.tenantId ?? PLATFORM_LOG;
      const position = { logId, seq: this.repositories.audit.nextSeq(logId), vid: randomUUID(), timestamp: this.clock().toISOString() };
      this.repositories.audit.append(sealer.seal(event, position));
      // The only way a notification is made: with the vid of the audit row just written.
      for (const userId of event.notify?.userIds ?? []) {
        if (event.tenantId === null) break;
        this.repositories.notifications.insert({ id: randomUUID(), tenantId: event.tenantId, userId, triggeredByAuditVid: position.vid, message: event.notify?.message ?? "", createdAt: position.timestamp, readAt: null });
      }
    });
  }

  /** Stores a signed checkpoint (idempotent per log and size). */
  saveCheckpoint(row: CheckpointRow): void {
    this.transact(() => this.repositories.audit.insertCheckpoint(row));
  }

  /** Folds the WAL into the database file now (after an erasure: no old page images stay in the WAL). */
  checkpoint(): void {
    this.storage.write(() => this.handle.pragma("wal_checkpoint(TRUNCATE)"));
  }

  /** Cheap liveness probe for /readyz. */
  ping(): void {
    this.handle.prepare("SELECT 1").get();
  }

  /** For /readyz, without writing: throws StorageFullError while the disk has no room (see storage.ts). */
  checkStorage(): void {
    this.storage.check();
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
    if (isStorageFull(failure)) throw new StorageFullError("the disk is full: the write-ahead logs were kept (every commit is in them) and are folded in at the next start");
    throw failure;
  }
}
