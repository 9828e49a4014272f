/**
 * Sealed content fields across every encrypted column (encrypted-columns.ts), for re-encryption
 * after a data-key rotation. The key version sits in bytes 2..5 of each sealed value
 * (field-cipher.ts), so SQL can count and find rows per version without decrypting anything.
 */
import type BetterSqlite3 from "better-sqlite3";
import { ENCRYPTED_COLUMNS, tenantColumnOf, type EncryptedColumn } from "../encrypted-columns.js";

export interface SealedRow {
  readonly id: string;
  readonly sealed: Uint8Array;
}

/** substr() on a BLOB counts bytes: byte 1 is the format, bytes 2..5 the big-endian key version. */
const VERSION_BYTES = "substr(%c, 2, 4)";

function versionExpr(column: EncryptedColumn): string {
  return VERSION_BYTES.replace("%c", column.sqlColumn);
}

function versionBytes(version: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(version);
  return b;
}

/** One tenant's sealed values: the tenant id is bound at construction and in every statement. */
export class SealedFieldRepository {
  /** What a read handle may call. */
  static readonly reads = ["versionCounts", "notUnder"] as const;

  constructor(
    private readonly handle: BetterSqlite3.Database,
    readonly tenantId: string,
  ) {}

  /** How many sealed values of the tenant each key version holds. */
  versionCounts(): Map<number, number> {
    const counts = new Map<number, number>();
    for (const column of ENCRYPTED_COLUMNS) {
      const rows = this.handle
        .prepare<[string], { v: Buffer; n: number }>(
          `SELECT ${versionExpr(column)} AS v, count(*) AS n ` +
            `FROM ${column.table} ` +
            `WHERE ${tenantColumnOf(column)} = ? AND ${column.sqlColumn} IS NOT NULL GROUP BY v`,
        )
        .all(this.tenantId);
      for (const { v, n } of rows) {
        const version = v.length === 4 ? v.readUInt32BE(0) : -1;
        counts.set(version, (counts.get(version) ?? 0) + n);
      }
    }
    return counts;
  }

  /** The next rows (by id, after `afterId`) of one column not sealed under `version`. */
  notUnder(column: EncryptedColumn, version: number, afterId: string, limit: number): SealedRow[] {
    return this.handle
      .prepare<[string, Buffer, string, number], { id: string; sealed: Buffer }>(
        `SELECT ${column.idColumn} AS id, ${column.sqlColumn} AS sealed ` +
          `FROM ${column.table} ` +
          `WHERE ${tenantColumnOf(column)} = ? AND ${versionExpr(column)} <> ? AND ${column.idColumn} > ? ` +
          `ORDER BY ${column.idColumn} LIMIT ?`,
      )
      .all(this.tenantId, versionBytes(version), afterId, limit)
      .map((r) => ({ id: r.id, sealed: new Uint8Array(r.sealed) }));
  }

  /**
   * Swaps one sealed value for its re-encryption, only if it is unchanged since it was read: a
   * concurrent edit (sealed under the new version anyway) wins. Returns whether it was replaced.
   */
  replace(column: EncryptedColumn, id: string, before: Uint8Array, after: Uint8Array): boolean {
    return (
      this.handle
        .prepare(
          `UPDATE ${column.table} ` +
            `SET ${column.sqlColumn} = ? ` +
            `WHERE ${tenantColumnOf(column)} = ? AND ${column.idColumn} = ? AND ${column.sqlColumn} = ?`,
        )
        .run(Buffer.from(after), this.tenantId, id, Buffer.from(before)).changes === 1
    );
  }
}
