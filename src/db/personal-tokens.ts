/** Personal access tokens: stored as SHA-256 hashes only; the token is shown once at creation. */
import type BetterSqlite3 from "better-sqlite3";

export interface PersonalTokenRecord {
  readonly id: string;
  readonly tenantId: string;
  readonly userId: string;
  readonly name: string;
  readonly tokenHash: Uint8Array;
  readonly scopes: readonly string[];
  readonly projectId: string | null;
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly lastUsedAt: string | null;
  readonly revokedAt: string | null;
}

interface Row {
  id: string;
  tenant_id: string;
  user_id: string;
  name: string;
  token_hash: Buffer;
  scopes: string;
  project_id: string | null;
  created_at: string;
  expires_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

const COLUMNS = "id, tenant_id, user_id, name, token_hash, scopes, project_id, created_at, expires_at, last_used_at, revoked_at";

function toRecord(row: Row): PersonalTokenRecord {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    userId: row.user_id,
    name: row.name,
    tokenHash: new Uint8Array(row.token_hash),
    scopes: row.scopes.split(" ").filter((s) => s !== ""),
    projectId: row.project_id,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
  };
}

export class PersonalTokenRepository {
  constructor(private readonly handle: BetterSqlite3.Database) {}

  /** Found by the hash of the presented token; this lookup establishes the tenant (tenancy allow-list). */
  findByHash(tokenHash: Uint8Array): PersonalTokenRecord | undefined {
    const row = this.handle.prepare<[Buffer], Row>(`SELECT ${COLUMNS} FROM personal_access_tokens WHERE token_hash = ?`).get(Buffer.from(tokenHash));
    return row ? toRecord(row) : undefined;
  }

  get(tenantId: string, id: string): PersonalTokenRecord | undefined {
    const row = this.handle.prepare<[string, string], Row>(`SELECT ${COLUMNS} FROM personal_access_tokens WHERE tenant_id = ? AND id = ?`).get(tenantId, id);
    return row ? toRecord(row) : undefined;
  }

  listForUser(tenantId: string, userId: string): PersonalTokenRecord[] {
    return this.handle
      .prepare<[string, string], Row>(`SELECT ${COLUMNS} FROM personal_access_tokens WHERE tenant_id = ? AND user_id = ? ORDER BY created_at DESC`)
      .all(tenantId, userId)
      .map(toRecord);
  }

  insert(token: PersonalTokenRecord): void {
    this.handle
      .prepare(`INSERT INTO personal_access_tokens (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(token.id, token.tenantId, token.userId, token.name, Buffer.from(token.tokenHash), token.scopes.join(" "), token.projectId, token.createdAt, token.expiresAt, token.lastUsedAt, token.revokedAt);
  }

  touch(tenantId: string, id: string, now: string): void {
    this.handle.prepare("UPDATE personal_access_tokens SET last_used_at = ? WHERE tenant_id = ? AND id = ?").run(now, tenantId, id);
  }

  revoke(tenantId: string, userId: string, id: string, now: string): boolean {
    return (
      this.handle
        .prepare("UPDATE personal_access_tokens SET revoked_at = ? WHERE tenant_id = ? AND user_id = ? AND id = ? AND revoked_at IS NULL")
        .run(now, tenantId, userId, id).changes === 1
    );
  }

  revokeAllForUser(tenantId: string, userId: string, now: string): number {
    return this.handle
      .prepare("UPDATE personal_access_tokens SET revoked_at = ? WHERE tenant_id = ? AND user_id = ? AND revoked_at IS NULL")
      .run(now, tenantId, userId).changes;
  }
}
