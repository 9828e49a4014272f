/** Failure counters for login throttling, keyed by account or client address. */
import type BetterSqlite3 from "better-sqlite3";
import { statement } from "../statements.js";

export interface ThrottleRecord {
  readonly key: string;
  readonly failures: number;
  readonly lastFailure: string;
  readonly blockedUntil: string | null;
}

interface Row {
  key: string;
  failures: number;
  last_failure: string;
  blocked_until: string | null;
}

export class LoginThrottleRepository {
  constructor(private readonly handle: BetterSqlite3.Database) {}

  get(key: string): ThrottleRecord | undefined {
    const row = statement<[string], Row>(
      this.handle,
      "SELECT key, failures, last_failure, blocked_until FROM login_throttle WHERE key = ?",
    ).get(key);
    return row
      ? { key: row.key, failures: row.failures, lastFailure: row.last_failure, blockedUntil: row.blocked_until }
      : undefined;
  }

  put(record: ThrottleRecord): void {
    statement(
      this.handle,
      "INSERT INTO login_throttle (key, failures, last_failure, blocked_until) " +
        "VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE " +
        "SET failures = excluded.failures, last_failure = excluded.last_failure, blocked_until = " +
        "excluded.blocked_until",
    ).run(record.key, record.failures, record.lastFailure, record.blockedUntil);
  }

  /** Forgets every counter that names the tenant (its accounts' keys start with the tenant id). */
  clearTenant(tenantId: string): void {
    statement(this.handle, "DELETE FROM login_throttle WHERE key LIKE ? OR key LIKE ?").run(
      `acct:${tenantId}:%`,
      `acct-addr:${tenantId}:%`,
    );
  }

  clear(key: string): void {
    statement(this.handle, "DELETE FROM login_throttle WHERE key = ?").run(key);
  }
}
