/**
 * Sessions and their refresh tokens. A session is one refresh-token family: rotating a token
 * spends the old one; presenting a spent one revokes the session (the family).
 */
import type BetterSqlite3 from "better-sqlite3";

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

interface RefreshRow {
  token_hash: Buffer;
  tenant_id: string;
  session_id: string;
  created_at: string;
  expires_at: string;
  used_at: string | null;
}

const SESSION_COLUMNS = "id, tenant_id, user_id, created_at, expires_at, last_used_at, revoked_at, revoke_reason, client";

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

export class SessionRepository {
  constructor(private readonly handle: BetterSqlite3.Database) {}

  get(tenantId: string, id: string): SessionRecord | undefined {
    const row = this.handle.prepare<[string, string], SessionRow>(`SELECT ${SESSION_COLUMNS} FROM sessions WHERE tenant_id = ? AND id = ?`).get(tenantId, id);
    return row ? toSession(row) : undefined;
  }

  listForUser(tenantId: string, userId: string): SessionRecord[] {
    return this.handle
      .prepare<[string, string], SessionRow>(`SELECT ${SESSION_COLUMNS} FROM sessions WHERE tenant_id = ? AND user_id = ? ORDER BY created_at DESC`)
      .all(tenantId, userId)
      .map(toSession);
  }

  insert(session: SessionRecord): void {
    this.handle
      .prepare(`INSERT INTO sessions (${SESSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(session.id, session.tenantId, session.userId, session.createdAt, session.expiresAt, session.lastUsedAt, session.revokedAt, session.revokeReason, session.client);
  }

  touch(tenantId: string, id: string, now: string): void {
    this.handle.prepare("UPDATE sessions SET last_used_at = ? WHERE tenant_id = ? AND id = ?").run(now, tenantId, id);
  }

  revoke(tenantId: string, id: string, reason: string, now: string): boolean {
    return (
      this.handle
        .prepare("UPDATE sessions SET revoked_at = ?, revoke_reason = ? WHERE tenant_id = ? AND id = ? AND revoked_at IS NULL")
        .run(now, reason, tenantId, id).changes === 1
    );
  }

  revokeAllForUser(tenantId: string, userId: string, reason: string, now: string): number {
    return this.handle
      .prepare("UPDATE sessions SET revoked_at = ?, revoke_reason = ? WHERE tenant_id = ? AND user_id = ? AND revoked_at IS NULL")
      .run(now, reason, tenantId, userId).changes;
  }

  /** Every live session of the user but one (the caller's own, after a password change). */
  revokeOthersForUser(tenantId: string, userId: string, keepId: string, reason: string, now: string): number {
    return this.handle
      .prepare("UPDATE sessions SET revoked_at = ?, revoke_reason = ? WHERE tenant_id = ? AND user_id = ? AND id <> ? AND revoked_at IS NULL")
      .run(now, reason, tenantId, userId, keepId).changes;
  }

  /**
   * The refresh token's row, found by its hash. This lookup is what establishes the tenant,
   * so it cannot bind one: it is on the tenancy test's short allow-list.
   */
  findRefreshToken(tokenHash: Uint8Array): RefreshTokenRecord | undefined {
    const row = this.handle
      .prepare<[Buffer], RefreshRow>("SELECT token_hash, tenant_id, session_id, created_at, expires_at, used_at FROM refresh_tokens WHERE token_hash = ?")
      .get(Buffer.from(tokenHash));
    return row
      ? { tokenHash: new Uint8Array(row.token_hash), tenantId: row.tenant_id, sessionId: row.session_id, createdAt: row.created_at, expiresAt: row.expires_at, usedAt: row.used_at }
      : undefined;
  }

  insertRefreshToken(token: RefreshTokenRecord): void {
    this.handle
      .prepare("INSERT INTO refresh_tokens (token_hash, tenant_id, session_id, created_at, expires_at, used_at) VALUES (?, ?, ?, ?, ?, ?)")
      .run(Buffer.from(token.tokenHash), token.tenantId, token.sessionId, token.createdAt, token.expiresAt, token.usedAt);
  }

  /** Marks the token spent; false when it was already spent (a replay). */
  spendRefreshToken(tenantId: string, tokenHash: Uint8Array, now: string): boolean {
    return (
      this.handle
        .prepare("UPDATE refresh_tokens SET used_at = ? WHERE tenant_id = ? AND token_hash = ? AND used_at IS NULL")
        .run(now, tenantId, Buffer.from(tokenHash)).changes === 1
    );
  }
}
