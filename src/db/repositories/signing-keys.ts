/** People's Ed25519 public keys for signed approvals (docs/signing.md): public, kept in plaintext. */
import type BetterSqlite3 from "better-sqlite3";
import { statement } from "../statements.js";

export interface SigningKeyRecord {
  /** The key id: the first 16 hex digits of SHA-256 of the raw public key. */
  readonly id: string;
  readonly tenantId: string;
  readonly userId: string;
  readonly name: string;
  /** The raw 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array;
  readonly createdAt: string;
  readonly revokedAt: string | null;
}

interface SigningKeyRow {
  id: string;
  tenant_id: string;
  user_id: string;
  name: string;
  public_key: Buffer;
  created_at: string;
  revoked_at: string | null;
}

const COLUMNS = "id, tenant_id, user_id, name, public_key, created_at, revoked_at";

function toSigningKey(row: SigningKeyRow): SigningKeyRecord {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    userId: row.user_id,
    name: row.name,
    publicKey: new Uint8Array(row.public_key),
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
  };
}

/** One tenant's signing keys: the tenant id is bound at construction and in every statement. */
export class SigningKeyRepository {
  /** What a read handle (TenantDb) may call. */
  static readonly reads = ["get", "findByPublicKey", "listForUser"] as const;

  constructor(
    private readonly handle: BetterSqlite3.Database,
    readonly tenantId: string,
  ) {}

  get(id: string): SigningKeyRecord | undefined {
    const row = statement<[string, string], SigningKeyRow>(
      this.handle,
      `SELECT ${COLUMNS} FROM signing_keys WHERE tenant_id = ? AND id = ?`,
    ).get(this.tenantId, id);
    return row ? toSigningKey(row) : undefined;
  }

  /** The key with these raw bytes, revoked or not, whoever registered it. */
  findByPublicKey(publicKey: Uint8Array): SigningKeyRecord | undefined {
    const row = statement<[string, Buffer], SigningKeyRow>(
      this.handle,
      `SELECT ${COLUMNS} FROM signing_keys WHERE tenant_id = ? AND public_key = ?`,
    ).get(this.tenantId, Buffer.from(publicKey));
    return row ? toSigningKey(row) : undefined;
  }

  listForUser(userId: string): SigningKeyRecord[] {
    return statement<[string, string], SigningKeyRow>(
      this.handle,
      `SELECT ${COLUMNS} FROM signing_keys WHERE tenant_id = ? AND user_id = ? ORDER BY created_at DESC, id`,
    )
      .all(this.tenantId, userId)
      .map(toSigningKey);
  }

  insert(key: Omit<SigningKeyRecord, "tenantId">): void {
    statement(this.handle, `INSERT INTO signing_keys (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)`).run(
      key.id,
      this.tenantId,
      key.userId,
      key.name,
      Buffer.from(key.publicKey),
      key.createdAt,
      key.revokedAt,
    );
  }

  /** Revokes one of the user's keys; false when it is not theirs or already revoked. */
  revoke(userId: string, id: string, now: string): boolean {
    return (
      statement(
        this.handle,
        "UPDATE signing_keys SET revoked_at = ? WHERE tenant_id = ? AND user_id = ? AND id = ? AND revoked_at IS NULL",
      ).run(now, this.tenantId, userId, id).changes === 1
    );
  }

  revokeAllForUser(userId: string, now: string): number {
    return statement(
      this.handle,
      "UPDATE signing_keys SET revoked_at = ? WHERE tenant_id = ? AND user_id = ? AND revoked_at IS NULL",
    ).run(now, this.tenantId, userId).changes;
  }
}
