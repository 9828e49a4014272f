/** The JWT key ring: key ids and their ages only (secrets are derived, never stored). */
import type BetterSqlite3 from "better-sqlite3";
import { statement } from "../statements.js";

export interface JwtKeyRecord {
  readonly kid: string;
  readonly createdAt: string;
  readonly retiredAt: string | null;
}

interface Row {
  kid: string;
  created_at: string;
  retired_at: string | null;
}

export class JwtKeyRepository {
  constructor(private readonly handle: BetterSqlite3.Database) {}

  /** Newest first. */
  list(): JwtKeyRecord[] {
    return statement<[], Row>(
      this.handle,
      "SELECT kid, created_at, retired_at FROM jwt_keys ORDER BY created_at DESC, kid",
    )
      .all()
      .map((r) => ({ kid: r.kid, createdAt: r.created_at, retiredAt: r.retired_at }));
  }

  /** Adds a key and retires every older one (retired keys still verify until their tokens expire). */
  rotate(kid: string, now: string): void {
    statement(this.handle, "UPDATE jwt_keys SET retired_at = ? WHERE retired_at IS NULL").run(now);
    statement(this.handle, "INSERT INTO jwt_keys (kid, created_at, retired_at) VALUES (?, ?, NULL)").run(kid, now);
  }

  /** Forgets keys retired before `before`: no unexpired token can name them. */
  prune(before: string): number {
    return statement(this.handle, "DELETE FROM jwt_keys WHERE retired_at IS NOT NULL AND retired_at < ?").run(before)
      .changes;
  }
}
