/**
 * Sessions and their refresh tokens. A session is one refresh-token family: rotating a token
 * spends the old one; presenting a spent one revokes the session (the family).
 */
import type BetterSqlite3 from "better-sqlite3";
import { statement } from "../statements.js";

export interface SessionRecord {
  readonly id: string;
  readonly tenantId: string;
  readonly userId: string;
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly lastUsedAt: string;
  readonly revokedAt: string | null;
  readonly revokeReason: string | null;
  readonly client: string;
}

export interface RefreshTokenRecord {
  readonly tokenHash: Uint8Array;
  readonly tenantId: string;
  readonly sessionId: string;
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly usedAt: string | null;
}

interface SessionRow {
  id: string;
  tenant_id: string;
  user_id: string;
  created_at: string;
  expires_at: string;
  last_used_at: string;
  revoked_at: string | null;
  revoke_reason: string | null;
  client: string;
}

export interface RefreshRow {
  token_hash: Buffer;
  tenant_id: string;
  session_id: string;
  created_at: string;
  expires_at: string;
  used_at: string | null;
}

const SESSION_COLUMNS =
  "id, tenant_id, user_id, created_at, expires_at, last_used_at, revoked_at, revoke_reason, client";

export const REFRESH_COLUMNS = "token_hash, tenant_id, session_id, created_at, expires_at, used_at";

export function toRefreshToken(row: RefreshRow): RefreshTokenRecord {
  return {
    tokenHash: new Uint8Array(row.token_hash),
    tenantId: row.tenant_id,
    sessionId: row.session_id,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    usedAt: row.used_at,
  };
}

function toSession(row: SessionRow): SessionRecord {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    userId: row.user_id,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
    revokeReason: row.revoke_reason,
    client: row.client,
  };
}

/** One tenant's sessions and refresh tokens: the tenant id is bound at construction and in every statement. */
export class SessionRepository {
  /** What a read handle (TenantDb) may call. */
  static readonly reads = ["get", "listForUser"] as const;

  constructor(
    private readonly handle: BetterSqlite3.Database,
    readonly tenantId: string,
  ) {}

  get(id: string): SessionRecord | undefined {
    const row = statement<[string, string], SessionRow>(
      this.handle,
      `SELECT ${SESSION_COLUMNS} FROM sessions WHERE tenant_id = ? AND id = ?`,
    ).get(this.tenantId, id);
    return row ? toSession(row) : undefined;
  }

  listForUser(userId: string): SessionRecord[] {
    return statement<[string, string], SessionRow>(
      this.handle,
      `SELECT ${SESSION_COLUMNS} FROM sessions WHERE tenant_id = ? AND user_id = ? ORDER BY created_at DESC`,
    )
      .all(this.tenantId, userId)
      .map(toSession);
  }

  insert(session: Omit<SessionRecord, "tenantId">): void {
    statement(this.handle, `INSERT INTO sessions (${SESSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(
      session.id,
      this.tenantId,
      session.userId,
      session.createdAt,
      session.expiresAt,
      session.lastUsedAt,
      session.revokedAt,
      session.revokeReason,
      session.client,
    );
  }

  touch(id: string, now: string): void {
    statement(this.handle, "UPDATE sessions SET last_used_at = ? WHERE tenant_id = ? AND id = ?").run(
      now,
      this.tenantId,
      id,
    );
  }

  revoke(id: string, reason: string, now: string): boolean {
    return (
      statement(
        this.handle,
        "UPDATE sessions SET revoked_at = ?, revoke_reason = ? WHERE tenant_id = ? AND id = ? AND revoked_at IS NULL",
      ).run(now, reason, this.tenantId, id).changes === 1
    );
  }

  revokeAllForUser(userId: string, reason: string, now: string): number {
    return statement(
      this.handle,
      "UPDATE sessions SET revoked_at = ?, revoke_reason = ? " +
        "WHERE tenant_id = ? AND user_id = ? AND revoked_at IS NULL",
    ).run(now, reason, this.tenantId, userId).changes;
  }

  /** Every live session of the user but one (the caller's own, after a password change). */
  revokeOthersForUser(userId: string, keepId: string, reason: string, now: string): number {
    return statement(
      this.handle,
      "UPDATE sessions SET revoked_at = ?, revoke_reason = ? " +
        "WHERE tenant_id = ? AND user_id = ? AND id <> ? AND revoked_at IS NULL",
    ).run(now, reason, this.tenantId, userId, keepId).changes;
  }

  insertRefreshToken(token: Omit<RefreshTokenRecord, "tenantId">): void {
    statement(
      this.handle,
      "INSERT INTO refresh_tokens (token_hash, tenant_id, session_id, created_at, expires_at, used_at) " +
        "VALUES (?, ?, ?, ?, ?, ?)",
    ).run(Buffer.from(token.tokenHash), this.tenantId, token.sessionId, token.createdAt, token.expiresAt, token.usedAt);
  }

  /** Marks the token spent; false when it was already spent (a replay). */
  spendRefreshToken(tokenHash: Uint8Array, now: string): boolean {
    return (
      statement(
        this.handle,
        "UPDATE refresh_tokens SET used_at = ? WHERE tenant_id = ? AND token_hash = ? AND used_at IS NULL",
      ).run(now, this.tenantId, Buffer.from(tokenHash)).changes === 1
    );
  }
}
