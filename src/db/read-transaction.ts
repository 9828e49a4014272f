/**
 * A request's reads in one read transaction (TenantDb.read). Outside a transaction SQLite wraps
 * every statement in one of its own, taking and releasing the WAL read lock (two fcntl calls and a
 * look at the WAL index) each time; a node read ran three such statements. Inside one deferred
 * transaction the lock is taken once, and the reads see one snapshot.
 *
 * Only for reads: fn gets nothing to write with (the door's read handle holds reads only), and a
 * deferred transaction that never writes never takes the write lock. Never across an await:
 * better-sqlite3 refuses a fn that returns a Promise, so no write of the group commit
 * (write-path.ts) can find this transaction open.
 */
import type BetterSqlite3 from "better-sqlite3";

export type ReadTogether = <T>(fn: () => T) => T;

export function readTogether(handle: BetterSqlite3.Database): ReadTogether {
  // Built once per connection: BEGIN DEFERRED and COMMIT are prepared once, not per request.
  const inOne = handle.transaction((fn: () => unknown) => fn());
  // Inside an open transaction (a write's), fn runs in it as it is.
  return <T>(fn: () => T): T => (handle.inTransaction ? fn() : (inOne.deferred(fn) as T));
}
