/**
 * When a commit is durable, decided off the event loop (docs/adr/0008-fsync-off-the-event-loop.md).
 *
 * The database connection runs `synchronous=NORMAL`: a COMMIT writes its WAL frames into the page
 * cache and returns without an fsync. With durability "full" (the default), this module makes
 * commits durable with an `fdatasync` of the `-wal` file on libuv's thread pool, one at a time: the
 * sync that starts covers every commit made before it started (the WAL is one file, written in
 * order, and recovery keeps a prefix of it), so commits that arrive while one sync runs share the
 * next. A write is acknowledged, and anything read from the database leaves the process, only once
 * the commits it could have seen are durable (`pending()`).
 *
 * With durability "normal" nothing waits: SQLite syncs the WAL only before it checkpoints, so a
 * power loss can take the last commits back (a process crash cannot). An operator's choice,
 * never the default (VECTO_SQLITE_SYNCHRONOUS).
 *
 * A failed fsync is not retried: after it, what the page cache holds of the WAL is unknown (the
 * kernel may have dropped the dirty pages it could not write). Every waiting and every later
 * write is refused with StorageFailedError and the database reports itself not ready until the
 * process restarts and SQLite recovers from what is on disk.
 */
import { closeSync, constants, fdatasync, fdatasyncSync, fstatSync, openSync, statSync } from "node:fs";
import type { Unavailable, UnavailableKind } from "../errors.js";

export type Durability = "full" | "normal";

/** The file system calls this module makes; tests may hold an fsync back to watch who waits for it. */
export interface SyncCalls {
  fdatasync(fd: number, done: (error: NodeJS.ErrnoException | null) => void): void;
  fdatasyncSync(fd: number): void;
}

const NODE_SYNC_CALLS: SyncCalls = { fdatasync, fdatasyncSync };

/** A commit could not be made durable: nothing more is written until the appliance restarts. */
export class StorageFailedError extends Error implements Unavailable {
  override readonly name = "StorageFailedError";
  readonly unavailable: UnavailableKind = "storage-failed";
}

/**
 * Fsyncs a database's WAL file from any connection or process, blocking: for a reader that pinned
 * a snapshot (a backup) and must not carry off a commit a power cut could still take back. No WAL
 * file: nothing is waiting in one.
 */
export function syncWalOf(databaseFile: string): void {
  let fd: number;
  try {
    fd = openSync(`${databaseFile}-wal`, constants.O_RDONLY);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw error;
  }
  try {
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

const FAILED = "the database's storage failed to make a commit durable; restart the appliance";

interface Waiter {
  readonly seq: number;
  readonly settle: (error?: StorageFailedError) => void;
}

export class WalSync {
  /** Commits made on the connection (a counter, not SQLite's). */
  private committed = 0;
  /** Every commit up to this one is on disk. */
  private durable = 0;
  private syncing = false;
  private waiters: Waiter[] = [];
  private failure: StorageFailedError | undefined;
  private wal: { readonly fd: number; readonly ino: number } | undefined;
  /** Files let go of while a sync ran on them (the connection closing, a WAL SQLite replaced): closed when it ends. */
  private closeAfterSync: number[] = [];
  /** drain() ran: the connection is closing, no sync is started any more. */
  private drained = false;

  constructor(
    private readonly walFile: string,
    private readonly durability: Durability,
    private readonly calls: SyncCalls = NODE_SYNC_CALLS,
  ) {}

  /** Counts a commit that just returned; returns its number, for whenDurable. */
  committedNow(): number {
    this.committed += 1;
    if (this.durability === "normal") this.durable = this.committed;
    return this.committed;
  }

  /** Calls settle once commit `seq` is durable, or with the error if that failed (synchronously if already known). */
  whenDurable(seq: number, settle: (error?: StorageFailedError) => void): void {
    if (this.failure !== undefined) return settle(this.failure);
    if (seq <= this.durable) return settle();
    this.waiters.push({ seq, settle });
    this.startSync();
  }

  /**
   * A Promise for every commit made so far to be durable, or undefined when they already are:
   * what must be awaited before data read from the database leaves the process.
   */
  pending(): Promise<void> | undefined {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.committed <= this.durable) return undefined;
    const seq = this.committed;
    return new Promise((resolve, reject) =>
      this.whenDurable(seq, (error) => (error === undefined ? resolve() : reject(error))),
    );
  }

  /** Throws StorageFailedError once a sync has failed (writes and readiness). */
  check(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  /**
   * Makes every commit so far durable before returning, blocking the thread: for the few writes
   * that must be on disk before the caller goes on (start-up, checkpoints, events with no change
   * of their own). Settles nobody: a waiter is settled by the sync it started.
   */
  syncNow(): void {
    this.check();
    if (this.durability === "normal" || this.committed <= this.durable) return;
    const wal = this.openWal();
    if (wal === undefined) return;
    try {
      this.calls.fdatasyncSync(wal.fd);
    } catch (error) {
      this.fail(error);
      throw this.failure;
    }
  }

  /** Settles every waiter (after one last sync): the connection is about to close. */
  drain(): void {
    this.drained = true;
    const target = this.committed;
    try {
      this.syncNow();
      this.markDurable(target);
    } catch {
      // fail() has settled every waiter with the error.
    }
    this.release();
  }

  private startSync(): void {
    if (this.syncing || this.failure !== undefined) return;
    const target = this.committed;
    let wal: { readonly fd: number } | undefined;
    try {
      wal = this.openWal();
    } catch (error) {
      return this.fail(error);
    }
    if (wal === undefined) return this.markDurable(target);
    this.syncing = true;
    this.calls.fdatasync(wal.fd, (error) => {
      this.syncing = false;
      for (const fd of this.closeAfterSync.splice(0)) closeSync(fd);
      if (error !== null) this.fail(error);
      else this.markDurable(target);
      if (!this.drained && this.waiters.length > 0) this.startSync();
    });
  }

  private markDurable(target: number): void {
    if (target <= this.durable) return;
    this.durable = target;
    const ready = this.waiters.filter((w) => w.seq <= target);
    this.waiters = this.waiters.filter((w) => w.seq > target);
    for (const waiter of ready) waiter.settle();
  }

  private fail(error: unknown): void {
    const cause = error instanceof Error ? { name: error.name, code: (error as NodeJS.ErrnoException).code } : {};
    this.failure ??= new StorageFailedError(`${FAILED} (${cause.code ?? cause.name ?? "unknown error"})`);
    const waiting = this.waiters;
    this.waiters = [];
    for (const waiter of waiting) waiter.settle(this.failure);
  }

  /**
   * The `-wal` file, opened once and again if SQLite replaced it (it deletes the file only when
   * the last connection closes after folding it in: then there is nothing left in it to sync).
   * Undefined when there is no WAL file: no commit is waiting in one.
   */
  private openWal(): { readonly fd: number; readonly ino: number } | undefined {
    let ino: number;
    try {
      ino = statSync(this.walFile).ino;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw error;
    }
    if (this.wal !== undefined && this.wal.ino === ino) return this.wal;
    this.release();
    const fd = openSync(this.walFile, constants.O_RDONLY);
    this.wal = { fd, ino: fstatSync(fd).ino };
    return this.wal;
  }

  private release(): void {
    if (this.wal === undefined) return;
    if (this.syncing) this.closeAfterSync.push(this.wal.fd);
    else closeSync(this.wal.fd);
    this.wal = undefined;
  }
}
