/** One-time setup tokens, stored as SHA-256 hashes only. */
import type BetterSqlite3 from "better-sqlite3";
import { statement } from "../statements.js";

export class SetupTokenRepository {
  constructor(private readonly handle: BetterSqlite3.Database) {}

  /** Issuing a new token retires every earlier unused one: only the newest is ever valid. */
  replace(tokenHash: Uint8Array, createdAt: string, expiresAt: string): void {
    statement(this.handle, "UPDATE setup_tokens SET used_at = ? WHERE used_at IS NULL").run(createdAt);
    statement(this.handle, "INSERT INTO setup_tokens (token_hash, created_at, expires_at) VALUES (?, ?, ?)").run(
      Buffer.from(tokenHash),
      createdAt,
      expiresAt,
    );
  }

  /** True for an unspent, unexpired token; spends nothing. */
  isValid(tokenHash: Uint8Array, now: string): boolean {
    const row = statement<[Buffer, string], { id: number }>(
      this.handle,
      "SELECT id FROM setup_tokens WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?",
    ).get(Buffer.from(tokenHash), now);
    return row !== undefined;
  }

  /** Marks the token spent; true only for an unspent, unexpired token. */
  consume(tokenHash: Uint8Array, now: string): boolean {
    const result = statement(
      this.handle,
      "UPDATE setup_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?",
    ).run(now, Buffer.from(tokenHash), now);
    return result.changes === 1;
  }
}
