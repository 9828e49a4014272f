/**
 * Prepared statements, one per SQL text per connection.
 *
 * Preparing (parsing and planning) cost about a tenth of a request's CPU when every call did it,
 * and repositories are built per tenant per request, so a cache inside one would die with it:
 * the cache hangs off the better-sqlite3 handle instead, and every repository asks it.
 *
 * - Bounded: the key is the SQL text, and only static SQL is passed here (every statement is a
 *   literal or a constant; optional filters and id lists are bound parameters, `json_each(?)`).
 *   SQL built at run time (tenant export's per-table SELECTs) prepares on its own handle.
 * - Closing: `Database#close()` finalizes every statement of the handle, and the WeakMap entry
 *   goes with the handle; a statement of a closed handle throws like the handle does.
 * - Re-entry: better-sqlite3 refuses to run a statement that is still iterating ("This statement
 *   is busy"). No repository iterates, but should one statement be asked for while its cached
 *   copy is mid-iteration, the caller gets a fresh, uncached one instead of that error.
 * - A statement that threw (a constraint, a busy database) is reset by better-sqlite3 and is
 *   reused as it is.
 */
import type BetterSqlite3 from "better-sqlite3";

type Params = unknown[] | object;
type StatementOf<P extends Params, R> = P extends unknown[]
  ? BetterSqlite3.Statement<P, R>
  : BetterSqlite3.Statement<[P], R>;

const caches = new WeakMap<BetterSqlite3.Database, Map<string, BetterSqlite3.Statement<unknown[]>>>();

function cacheOf(handle: BetterSqlite3.Database): Map<string, BetterSqlite3.Statement<unknown[]>> {
  let cache = caches.get(handle);
  if (cache === undefined) {
    cache = new Map();
    caches.set(handle, cache);
  }
  return cache;
}

/** The handle's prepared statement for `sql`, prepared on first use. `sql` must be static text (see above). */
export function statement<P extends Params = unknown[], R = unknown>(
  handle: BetterSqlite3.Database,
  sql: string,
): StatementOf<P, R> {
  const cache = cacheOf(handle);
  const cached = cache.get(sql);
  if (cached === undefined) {
    const prepared = handle.prepare<unknown[]>(sql);
    cache.set(sql, prepared);
    return prepared as unknown as StatementOf<P, R>;
  }
  if (cached.busy) return handle.prepare<P, R>(sql) as StatementOf<P, R>;
  return cached as unknown as StatementOf<P, R>;
}
