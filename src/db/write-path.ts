/**
 * The one write path: every change to the database — a request's, a CLI command's, a job's —
 * runs through `WritePath.run`, in one IMMEDIATE transaction, together with the audit events
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
 * So issue 15 can batch concurrent writes into one durable transaction (a savepoint per write,
 * each Promise settled after the batch commits) here, without touching domain code.
 */
import type BetterSqlite3 from "better-sqlite3";
import type { DomainEvent } from "../vocabulary/events.js";
import type { StorageState } from "./storage.js";

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
  readonly mustAudit: boolean;
}

export class WritePath {
  private open: Open | undefined;
  private readonly committedListeners: ((committed: Committed) => void)[] = [];
  private readonly changes: BetterSqlite3.Statement<[], { n: number }>;

  constructor(
    private readonly handle: BetterSqlite3.Database,
    /** Whether the disk has room: a full disk rolls the transaction back (StorageFullError). */
    private readonly storage: StorageState,
    private readonly isClosed: () => boolean,
  ) {
    this.changes = handle.prepare<[], { n: number }>("SELECT total_changes() AS n");
  }

  /**
   * Runs fn in one IMMEDIATE transaction (inside an open one, as part of it). `mustAudit`: fn's
   * row changes need an audit event (an action) or not (bookkeeping, the engine's own rows).
   */
  run<T>(mustAudit: boolean, fn: () => T): T {
    if (this.isClosed()) throw new Error("database is closed");
    if (this.open !== undefined) {
      // Part of the enclosing transaction: an action inside bookkeeping still needs its event.
      if (mustAudit && !this.open.mustAudit)
        throw new Error("an audited write cannot run inside a bookkeeping transaction");
      return fn();
    }
    const open: Open = { audited: new Set(), afterCommit: [], mustAudit };
    this.open = open;
    let result: T;
    try {
      result = this.storage.write(() =>
        this.handle
          .transaction(() => {
            const before = this.totalChanges();
            const value = fn();
            if (mustAudit && open.audited.size === 0 && this.totalChanges() !== before) {
              throw new MissingAuditEventError(
                "a write changed rows without recording an audit event (tx.audit); it was rolled back",
              );
            }
            return value;
          })
          .immediate(),
      );
    } finally {
      this.open = undefined;
    }
    for (const run of open.afterCommit) run();
    if (open.audited.size > 0) for (const listener of this.committedListeners) listener({ logIds: open.audited });
    return result;
  }

  /** Notes that the open transaction appended an event to `logId` (Database.audit). */
  audited(logId: string): void {
    if (this.open === undefined) throw new Error("an audit event is appended only inside a transaction");
    this.open.audited.add(logId);
  }

  /** Runs fn once the open transaction has committed (never, if it rolls back); at once outside one. */
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
    return this.changes.get()?.n ?? 0;
  }
}
