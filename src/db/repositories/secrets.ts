/**
 * Tenant secrets (migration 0009). Every statement binds tenant_id. Only ciphertext passes
 * through here: the plaintext value never reaches SQL, so it can be in no statement, bound
 * parameter or SQLite error message.
 */
import type BetterSqlite3 from "better-sqlite3";
import { statement } from "../statements.js";

export interface SecretRecord {
  readonly id: string;
  readonly tenantId: string;
  readonly name: string;
  readonly valueEnc: Uint8Array;
  readonly descriptionEnc: Uint8Array;
  readonly version: number;
  readonly createdBy: string;
  readonly createdAt: string;
  readonly rotatedBy: string;
  readonly rotatedAt: string;
}

/** A rotation: the new sealed value (and description, when it changes), by whom. */
export interface SecretRotation {
  readonly valueEnc: Uint8Array;
  readonly descriptionEnc?: Uint8Array;
  readonly rotatedBy: string;
}

interface SecretRow {
  id: string;
  tenant_id: string;
  name: string;
  value_enc: Buffer;
  description_enc: Buffer;
  version: number;
  created_by: string;
  created_at: string;
  rotated_by: string;
  rotated_at: string;
}

const COLUMNS =
  "id, tenant_id, name, value_enc, description_enc, version, created_by, created_at, rotated_by, rotated_at";

function toSecret(row: SecretRow): SecretRecord {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    name: row.name,
    valueEnc: new Uint8Array(row.value_enc),
    descriptionEnc: new Uint8Array(row.description_enc),
    version: row.version,
    createdBy: row.created_by,
    createdAt: row.created_at,
    rotatedBy: row.rotated_by,
    rotatedAt: row.rotated_at,
  };
}

/** One tenant's secrets: the tenant id is bound at construction and in every statement. */
export class SecretRepository {
  /** What a read handle (TenantDb) may call. */
  static readonly reads = ["get", "list"] as const;

  constructor(
    private readonly handle: BetterSqlite3.Database,
    readonly tenantId: string,
  ) {}

  get(name: string): SecretRecord | undefined {
    const row = statement<[string, string], SecretRow>(
      this.handle,
      `SELECT ${COLUMNS} FROM tenant_secrets WHERE tenant_id = ? AND name = ?`,
    ).get(this.tenantId, name);
    return row ? toSecret(row) : undefined;
  }

  /** The tenant's secrets, keyset-paginated by name. */
  list(after: string | undefined, limit: number): SecretRecord[] {
    return statement<[string, string, number], SecretRow>(
      this.handle,
      `SELECT ${COLUMNS} FROM tenant_secrets WHERE tenant_id = ? AND name > ? ORDER BY name LIMIT ?`,
    )
      .all(this.tenantId, after ?? "", limit)
      .map(toSecret);
  }

  insert(secret: Omit<SecretRecord, "tenantId">): void {
    statement(this.handle, `INSERT INTO tenant_secrets (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(
      secret.id,
      this.tenantId,
      secret.name,
      Buffer.from(secret.valueEnc),
      Buffer.from(secret.descriptionEnc),
      secret.version,
      secret.createdBy,
      secret.createdAt,
      secret.rotatedBy,
      secret.rotatedAt,
    );
  }

  /**
   * Replaces the sealed value of row `id` (the id the ciphertext was sealed for) and bumps the
   * version. With `expectedVersion` it changes nothing unless that is still the current version.
   * Returns the new version, or undefined when nothing matched.
   */
  rotate(id: string, expectedVersion: number | undefined, rotation: SecretRotation, now: string): number | undefined {
    const current = statement<[string, string], SecretRow>(
      this.handle,
      `SELECT ${COLUMNS} FROM tenant_secrets WHERE tenant_id = ? AND id = ?`,
    ).get(this.tenantId, id);
    if (!current || (expectedVersion !== undefined && current.version !== expectedVersion)) return undefined;
    const description =
      rotation.descriptionEnc === undefined ? current.description_enc : Buffer.from(rotation.descriptionEnc);
    const changed = statement(
      this.handle,
      "UPDATE tenant_secrets " +
        "SET value_enc = ?, description_enc = ?, version = version + 1, rotated_by = ?, rotated_at = ? " +
        "WHERE tenant_id = ? AND id = ? AND version = ?",
    ).run(
      Buffer.from(rotation.valueEnc),
      description,
      rotation.rotatedBy,
      now,
      this.tenantId,
      id,
      current.version,
    ).changes;
    return changed === 1 ? current.version + 1 : undefined;
  }

  /** Deletes by name; secure_delete (src/db/sqlite.ts) overwrites the freed ciphertext. Returns the deleted row. */
  delete(name: string): SecretRecord | undefined {
    const current = this.get(name);
    if (!current) return undefined;
    const changed = statement(this.handle, "DELETE FROM tenant_secrets WHERE tenant_id = ? AND id = ?").run(
      this.tenantId,
      current.id,
    ).changes;
    return changed === 1 ? current : undefined;
  }
}
