/** One-time password reset tokens, stored as SHA-256 hashes only; at most one per user. */
import type BetterSqlite3 from "better-sqlite3";
import { statement } from "../statements.js";

export interface PasswordResetRecord {
  readonly tokenHash: Uint8Array;
  readonly tenantId: string;
  readonly userId: string;
  /** The admin who issued it. */
  readonly createdBy: string;
  readonly createdAt: string;
  readonly expiresAt: string;
}

export interface PasswordResetRow {
  token_hash: Buffer;
  tenant_id: string;
  user_id: string;
  created_by: string;
  created_at: string;
  expires_at: string;
}

/** One tenant's password resets: the tenant id is bound at construction and in every statement. */
export function toPasswordReset(row: PasswordResetRow): PasswordResetRecord {
  return {
    tokenHash: new Uint8Array(row.token_hash),
    tenantId: row.tenant_id,
    userId: row.user_id,
    createdBy: row.created_by,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
  };
}

export class PasswordResetRepository {
  /**
   * A read handle sees none of it: resets are found by their hash (credential-lookup.ts) and changed only in a write.
   */
  static readonly reads = [] as const;

  constructor(
    private readonly handle: BetterSqlite3.Database,
    readonly tenantId: string,
  ) {}

  /** Stores a new reset for the user; the user's earlier one, and every expired one of the tenant, are gone. */
  replace(reset: Omit<PasswordResetRecord, "tenantId">): void {
    statement(this.handle, "DELETE FROM password_resets WHERE tenant_id = ? AND (user_id = ? OR expires_at <= ?)").run(
      this.tenantId,
      reset.userId,
      reset.createdAt,
    );
    statement(
      this.handle,
      "INSERT INTO password_resets (token_hash, tenant_id, user_id, created_by, created_at, " +
        "expires_at) VALUES (?, ?, ?, ?, ?, ?)",
    ).run(Buffer.from(reset.tokenHash), this.tenantId, reset.userId, reset.createdBy, reset.createdAt, reset.expiresAt);
  }

  /** Deletes the reset if it is still unexpired; true only then (it can be spent once). */
  consume(tokenHash: Uint8Array, now: string): boolean {
    return (
      statement(
        this.handle,
        "DELETE FROM password_resets WHERE tenant_id = ? AND token_hash = ? AND expires_at > ?",
      ).run(this.tenantId, Buffer.from(tokenHash), now).changes === 1
    );
  }

  /** Every reset of the tenant: a new root recovery token voids any earlier one, whichever root it was for. */
  deleteForTenant(): number {
    return statement(this.handle, "DELETE FROM password_resets WHERE tenant_id = ?").run(this.tenantId).changes;
  }

  deleteForUser(userId: string): number {
    return statement(this.handle, "DELETE FROM password_resets WHERE tenant_id = ? AND user_id = ?").run(
      this.tenantId,
      userId,
    ).changes;
  }
}
