/**
 * The one write path: every change to the database — a request's, a CLI command's, a job's —
 * runs through `WritePath` (enqueue, or run), in one IMMEDIATE transaction, together with the audit events
 * that record it.
 *
 * The contract the domain relies on, and the only one:
 *  - `write(fn)` returns a Promise that settles once the change is durable (committed) or
 *    refused. Code after the `await` may rely on it; nothing may rely on the commit having
 *    happened synchronously, nor on when fn runs relative to other writes.
 *  - fn is synchronous: it reads and changes rows through its transaction and returns a value;
 *    it never awaits (no key work, no hashing inside: do that before the write).
 *  - A write records what it did with `tx.audit(event)`. One that changes rows and records no
 *    event is rolled back and refused (MissingAuditEventError): there is no write without its
 *    event. Writes that are not actions take a named bookkeeping path (db.ts) instead.
 *  - A thrown error rolls fn's changes and events back and rejects the Promise with it.
 *
 * Group commit: writes queued in the same turn of the event loop (every request whose handler
 * reached its write while the previous batch was committing) run in ONE IMMEDIATE transaction,
 * each inside its own savepoint, and that transaction commits once for all of them. A write that
 * throws is rolled back to its savepoint alone; the others in its batch commit. Only what fails
 * the whole transaction (a full disk, an I/O error, the database busy) rejects every write of the
 * batch: nothing of it was kept (docs/adr/0007-group-commit.md).
 *
 * Durable before acknowledged: the COMMIT returns once its WAL frames are written, and the WAL's
 * fsync runs on libuv's thread pool (wal-sync.ts, docs/adr/0008-fsync-off-the-event-loop.md), so
 * the event loop goes on parsing and answering requests, and the next batch forms meanwhile. A
 * batch's Promises settle, and what follows its commit (afterCommit, onCommitted) runs, only once
 * the batch is durable.
 */
import type BetterSqlite3 from "better-sqlite3";
import type { DomainEvent } from "../vocabulary/events.js";
import { isStorageFull, type StorageState } from "./storage.js";
import type { WalSync } from "./wal-sync.js";

/** What every write transaction holds besides its repositories. */
export interface TransactionBase {
  /** The transaction's time: every row it stamps. */
  readonly now: string;
  /** Records this change's audit event in this transaction: both commit, or neither does. */
  audit(event: DomainEvent): void;
}

/** A write that changed rows without recording an audit event: refused, nothing was kept. */
export class MissingAuditEventError extends Error {
  override readonly name = "MissingAuditEventError";
}

/** What one committed transaction audited: the logs that got events (for checkpoints, log lines). */
export interface Committed {
  readonly logIds: ReadonlySet<string>;
}

interface Open {
  readonly audited: Set<string>;
  readonly afterCommit: (() => void)[];
  readonly atCommit: (() => void)[];
  readonly mustAudit: boolean;
}

/** A write waiting for the next batch. */
interface Queued {
  readonly mustAudit: boolean;
  readonly fn: () => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/** A write of the batch that ran and was released into it: settled once the batch commits. */
interface Kept {
  readonly write: Queued;
  readonly value: unknown;
  readonly open: Open;
}

export class WritePath {
  private open: Open | undefined;
  private queue: Queued[] = [];
  private readonly committedListeners: ((committed: Committed) => void)[] = [];
  private readonly sql: Record<
    "changes" | "begin" | "commit" | "rollback" | "savepoint" | "release" | "undo",
    BetterSqlite3.Statement
  >;

  constructor(
    private readonly handle: BetterSqlite3.Database,
    /** Whether the disk has room: a full disk rolls the transaction back (StorageFullError). */
    private readonly storage: StorageState,
    /** When a commit is on disk: a batch is acknowledged only then. */
    private readonly sync: WalSync,
    private readonly isClosed: () => boolean,
  ) {
    this.sql = {
      changes: handle.prepare("SELECT total_changes() AS n"),
      begin: handle.prepare("BEGIN IMMEDIATE"),
      commit: handle.prepare("COMMIT"),
      rollback: handle.prepare("ROLLBACK"),
      savepoint: handle.prepare("SAVEPOINT write"),
      release: handle.prepare("RELEASE write"),
      undo: handle.prepare("ROLLBACK TO write"),
    };
  }

  /**
   * Queues fn for the next batch (see the top of this file); inside an open transaction, runs it
   * there, as part of it. `mustAudit`: fn's row changes need an audit event (an action) or not
   * (bookkeeping, the engine's own rows).
   */
  enqueue<T>(mustAudit: boolean, fn: () => T): Promise<T> {
    if (this.isClosed()) return Promise.reject(new Error("database is closed"));
    if (this.open !== undefined) return Promise.resolve(this.run(mustAudit, fn));
    try {
      this.sync.check();
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<T>((resolve, reject) => {
      if (this.queue.length === 0) setImmediate(() => this.flush());
      this.queue.push({ mustAudit, fn, resolve: resolve as (value: unknown) => void, reject });
    });
  }

  /**
   * Runs fn now, in its own IMMEDIATE transaction (inside an open one, as part of it): for what
   * must be written before the caller goes on (an event with no change of its own, the engine's
   * rows at start-up, a checkpoint row). Requests use enqueue, through the handles' write().
   */
  run<T>(mustAudit: boolean, fn: () => T): T {
    if (this.isClosed()) throw new Error("database is closed");
    if (this.open !== undefined) {
      // Part of the enclosing transaction: an action inside bookkeeping still needs its event.
      if (mustAudit && !this.open.mustAudit)
        throw new Error("an audited write cannot run inside a bookkeeping transaction");
      return fn();
    }
    const write: Queued = { mustAudit, fn, resolve: () => undefined, reject: () => undefined };
    const kept = this.commitBatch([write], true).kept[0] as Kept;
    this.sync.syncNow();
    this.settle([kept]);
    return kept.value as T;
  }

  /** Commits what is queued now, before the database closes: a queued write is never dropped. */
  flush(): void {
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    if (this.isClosed()) {
      for (const write of batch) write.reject(new Error("database is closed"));
      return;
    }
    let committed: { kept: Kept[]; seq: number };
    try {
      this.sync.check();
      committed = this.commitBatch(batch, false);
    } catch (error) {
      for (const write of batch) write.reject(error);
      return;
    }
    const { kept, seq } = committed;
    this.sync.whenDurable(seq, (failure) => {
      if (failure !== undefined) {
        for (const { write } of kept) write.reject(failure);
        return;
      }
      try {
        this.settle(kept);
      } catch (error) {
        for (const { write } of kept) write.reject(error);
        return;
      }
      for (const { write, value } of kept) write.resolve(value);
    });
  }

  /** What follows a durable commit: afterCommit callbacks, then the onCommitted listeners. */
  private settle(kept: readonly Kept[]): void {
    for (const { open } of kept) for (const run of open.afterCommit) run();
    const logIds = new Set(kept.flatMap(({ open }) => [...open.audited]));
    if (logIds.size > 0) for (const listener of this.committedListeners) listener({ logIds });
  }

  /**
   * One IMMEDIATE transaction for the batch, a savepoint per write, one commit. A write that throws
   * is undone alone and rejected (rethrown when `alone`); an error that ended the transaction fails
   * the batch. Returns the kept writes once the COMMIT returned, with the commit's number in
   * WalSync; what follows a commit waits until it is durable.
   */
  private commitBatch(batch: readonly Queued[], alone: boolean): { kept: Kept[]; seq: number } {
    const kept: Kept[] = [];
    this.storage.write(() => {
      this.sql.begin.run();
      try {
        for (const write of batch) {
          const one = this.runOne(write);
          if ("error" in one) {
            if (alone) throw one.error;
            write.reject(one.error);
          } else kept.push(one);
        }
        this.sql.commit.run();
      } catch (error) {
        if (this.handle.inTransaction) this.sql.rollback.run();
        throw error;
      }
    });
    const seq = this.sync.committedNow();
    for (const { open } of kept) for (const run of open.atCommit) run();
    return { kept, seq };
  }

  /** One write in its savepoint: kept, or undone with its error. Rethrows what ended the transaction. */
  private runOne(write: Queued): Kept | { readonly error: unknown } {
    const open: Open = { audited: new Set(), afterCommit: [], atCommit: [], mustAudit: write.mustAudit };
    this.open = open;
    this.sql.savepoint.run();
    try {
      const before = this.totalChanges();
      const value = write.fn();
      if (isThenable(value)) throw new TypeError("a write function must not return a promise (it never awaits)");
      if (write.mustAudit && open.audited.size === 0 && this.totalChanges() !== before) {
        throw new MissingAuditEventError(
          "a write changed rows without recording an audit event (tx.audit); it was rolled back",
        );
      }
      this.sql.release.run();
      return { write, value, open };
    } catch (error) {
      // SQLite may end the whole transaction itself (a full disk, I/O): then nothing of the batch is kept.
      if (!this.handle.inTransaction || isStorageFull(error)) throw error;
      this.sql.undo.run();
      this.sql.release.run();
      return { error };
    } finally {
      this.open = undefined;
    }
  }
  /** Notes that the open transaction appended an event to `logId` (Database.audit). */
  audited(logId: string): void {
    if (this.open === undefined) throw new Error("an audit event is appended only inside a transaction");
    this.open.audited.add(logId);
  }

  /**
   * Runs fn as soon as the open transaction's COMMIT returned, before it is durable (never, if it
   * rolls back); at once outside one. For what only drops what memory holds (caches of rows): the
   * connection already reads the new rows, so memory must not lag behind them.
   */
  atCommit(fn: () => void): void {
    if (this.open === undefined) fn();
    else this.open.atCommit.push(fn);
  }

  /** Runs fn once the open transaction has committed and is durable (never, if it rolls back); at once outside one. */
  afterCommit(fn: () => void): void {
    if (this.open === undefined) fn();
    else this.open.afterCommit.push(fn);
  }

  /**
   * Calls the listener after every commit that appended audit events, with the logs they went
   * to: the hook for what follows a commit (checkpoints of those logs, anchors).
   */
  onCommitted(listener: (committed: Committed) => void): void {
    this.committedListeners.push(listener);
  }

  private totalChanges(): number {
    return (this.sql.changes.get() as { n: number } | undefined)?.n ?? 0;
  }
}

function isThenable(value: unknown): boolean {
  return typeof (value as { then?: unknown } | null)?.then === "function";
}
