/**
 * Tells what is served from memory (the principal behind a credential, the license in effect)
 * that the rows it came from changed, so it never outlives them.
 *
 * Two ways a watched row changes, and both are caught without the domain naming them:
 *  - Through this connection: TEMP triggers on the watched tables (this connection's alone; other
 *    connections and the schema file never see them) call a function registered here for every
 *    row inserted, updated or deleted, whatever code path ran the statement, cascades included.
 *    The notice is delivered as soon as the transaction's COMMIT returned (write-path atCommit,
 *    before its fsync: the connection reads the new rows from then on, so memory must not lag),
 *    never for one rolled back, and before the write's Promise settles: the request that revoked
 *    has its answer only after the memory forgot.
 *  - Through another connection (a CLI command such as `vecto license install` while the server
 *    runs; someone with sqlite3): `PRAGMA data_version` changes when another connection commits.
 *    `sync()` compares it and, when it moved, tells every listener that anything may have
 *    changed. A reader calls `sync()` before serving from memory, so another process's commit is
 *    seen by the next request.
 */
import type BetterSqlite3 from "better-sqlite3";

/** The rows memory is served from: a credential's principal (auth) and the license in effect. */
export const WATCHED_TABLES = {
  tenants: "id",
  users: "id",
  sessions: "id",
  personal_access_tokens: "id",
  licenses: "sequence",
} as const;

export type WatchedTable = keyof typeof WATCHED_TABLES;

/** One row of a watched table changed (by its key), or another connection committed (anything may have). */
export type RowChange =
  { readonly kind: "row"; readonly table: WatchedTable; readonly id: string } | { readonly kind: "external" };

export type RowListener = (change: RowChange) => void;

const FUNCTION = "vecto_watched_row_changed";

function triggers(): string[] {
  const sql: string[] = [];
  for (const [table, key] of Object.entries(WATCHED_TABLES)) {
    const call = (row: "OLD" | "NEW"): string => `SELECT ${FUNCTION}('${table}', CAST(${row}.${key} AS TEXT));`;
    sql.push(
      `CREATE TEMP TRIGGER IF NOT EXISTS vecto_watch_${table}_insert AFTER INSERT ON main.${table} BEGIN ${call("NEW")} END`,
      `CREATE TEMP TRIGGER IF NOT EXISTS vecto_watch_${table}_update AFTER UPDATE ON main.${table} BEGIN ` +
        `${call("OLD")} ${call("NEW")} END`,
      `CREATE TEMP TRIGGER IF NOT EXISTS vecto_watch_${table}_delete AFTER DELETE ON main.${table} BEGIN ${call("OLD")} END`,
    );
  }
  return sql;
}

export class RowWatch {
  private readonly listeners: RowListener[] = [];
  private readonly dataVersion: BetterSqlite3.Statement<[], number>;
  private seenVersion: number;
  private installed = false;

  constructor(
    private readonly handle: BetterSqlite3.Database,
    /** Runs fn once the open transaction's COMMIT returned (never if it rolls back); at once outside one. */
    private readonly atCommit: (fn: () => void) => void,
  ) {
    this.dataVersion = handle.prepare<[], number>("PRAGMA data_version").pluck();
    this.seenVersion = this.version();
  }

  /** Calls the listener for every committed change of a watched row, and after another connection's commits. */
  subscribe(listener: RowListener): void {
    if (!this.installed) this.install();
    this.listeners.push(listener);
  }

  /**
   * Whether what this connection reads now is committed: memory is filled only then. Inside an
   * open transaction a read may see a change that is then rolled back, and a rollback sends no
   * notice, so what it read must not be kept.
   */
  get readsCommitted(): boolean {
    return !this.handle.inTransaction;
  }

  /**
   * Looks whether another connection committed since the last look (one cheap pragma); if so,
   * every listener hears "external" before this returns. Call before serving from memory.
   */
  sync(): void {
    const version = this.version();
    if (version === this.seenVersion) return;
    this.seenVersion = version;
    this.notify({ kind: "external" });
  }

  private version(): number {
    return this.dataVersion.get() ?? 0;
  }

  private install(): void {
    this.handle.function(FUNCTION, { deterministic: false, varargs: false }, (table: unknown, id: unknown) => {
      const change: RowChange = { kind: "row", table: table as WatchedTable, id: String(id) };
      this.atCommit(() => this.notify(change));
      return null;
    });
    for (const statement of triggers()) this.handle.exec(statement);
    this.installed = true;
  }

  private notify(change: RowChange): void {
    for (const listener of this.listeners) listener(change);
  }
}
