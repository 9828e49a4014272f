/** Personal access tokens: stored as SHA-256 hashes only; the token is shown once at creation. */
import type BetterSqlite3 from "better-sqlite3";
import { statement } from "../statements.js";

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

export interface PersonalTokenRow {
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

export const PERSONAL_TOKEN_COLUMNS =
  "id, tenant_id, user_id, name, token_hash, scopes, project_id, created_at, expires_at, last_used_at, revoked_at";

export function toPersonalToken(row: PersonalTokenRow): PersonalTokenRecord {
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

/** One tenant's personal access tokens: the tenant id is bound at construction and in every statement. */
export class PersonalTokenRepository {
  /** What a read handle (TenantDb) may call. */
  static readonly reads = ["get", "listForUser"] as const;

  constructor(
    private readonly handle: BetterSqlite3.Database,
    readonly tenantId: string,
  ) {}

  get(id: string): PersonalTokenRecord | undefined {
    const row = statement<[string, string], PersonalTokenRow>(
      this.handle,
      `SELECT ${PERSONAL_TOKEN_COLUMNS} FROM personal_access_tokens WHERE tenant_id = ? AND id = ?`,
    ).get(this.tenantId, id);
    return row ? toPersonalToken(row) : undefined;
  }

  listForUser(userId: string): PersonalTokenRecord[] {
    return statement<[string, string], PersonalTokenRow>(
      this.handle,
      `SELECT ${PERSONAL_TOKEN_COLUMNS} ` +
        `FROM personal_access_tokens ` +
        `WHERE tenant_id = ? AND user_id = ? ORDER BY created_at DESC`,
    )
      .all(this.tenantId, userId)
      .map(toPersonalToken);
  }

  insert(token: Omit<PersonalTokenRecord, "tenantId">): void {
    statement(
      this.handle,
      `INSERT INTO personal_access_tokens (${PERSONAL_TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      token.id,
      this.tenantId,
      token.userId,
      token.name,
      Buffer.from(token.tokenHash),
      token.scopes.join(" "),
      token.projectId,
      token.createdAt,
      token.expiresAt,
      token.lastUsedAt,
      token.revokedAt,
    );
  }

  touch(id: string, now: string): void {
    statement(this.handle, "UPDATE personal_access_tokens SET last_used_at = ? WHERE tenant_id = ? AND id = ?").run(
      now,
      this.tenantId,
      id,
    );
  }

  revoke(userId: string, id: string, now: string): boolean {
    return (
      statement(
        this.handle,
        "UPDATE personal_access_tokens " +
          "SET revoked_at = ? WHERE tenant_id = ? AND user_id = ? AND id = ? AND revoked_at IS NULL",
      ).run(now, this.tenantId, userId, id).changes === 1
    );
  }

  revokeAllForUser(userId: string, now: string): number {
    return statement(
      this.handle,
      "UPDATE personal_access_tokens SET revoked_at = ? WHERE tenant_id = ? AND user_id = ? AND revoked_at IS NULL",
    ).run(now, this.tenantId, userId).changes;
  }
}
