/**
 * Every column that holds a sealed content field (src/crypto/field-cipher.ts), with the FieldRef it
 * is sealed under. Re-encryption after a data-key rotation walks this list, and the key status
 * counts rows per key version from it, so a new encrypted column must be added here (a test
 * compares this list with the `*_enc` columns the migrations create).
 */
export interface EncryptedColumn {
  /** Table and FieldRef.table. */
  readonly table: string;
  /** The BLOB column in SQL. */
  readonly sqlColumn: string;
  /** FieldRef.column: the name the field's AAD binds to. */
  readonly fieldColumn: string;
  /** FieldRef.rowId comes from this column. */
  readonly idColumn: string;
  /** The column holding the owning tenant's id: tenant_id, except in `tenants` itself. */
  readonly tenantColumn?: "id";
}

export const ENCRYPTED_COLUMNS: readonly EncryptedColumn[] = [
  { table: "users", sqlColumn: "email_enc", fieldColumn: "email", idColumn: "id" },
  { table: "users", sqlColumn: "name_enc", fieldColumn: "name", idColumn: "id" },
  { table: "projects", sqlColumn: "name_enc", fieldColumn: "name", idColumn: "id" },
  { table: "nodes", sqlColumn: "title_enc", fieldColumn: "title", idColumn: "id" },
  { table: "nodes", sqlColumn: "body_enc", fieldColumn: "body", idColumn: "id" },
  { table: "comments", sqlColumn: "body_enc", fieldColumn: "body", idColumn: "id" },
  { table: "node_revisions", sqlColumn: "title_enc", fieldColumn: "title", idColumn: "id" },
  { table: "node_revisions", sqlColumn: "body_enc", fieldColumn: "body", idColumn: "id" },
  { table: "tenant_secrets", sqlColumn: "value_enc", fieldColumn: "value", idColumn: "id" },
  { table: "tenant_secrets", sqlColumn: "description_enc", fieldColumn: "description", idColumn: "id" },
  { table: "ai_calls", sqlColumn: "payload_enc", fieldColumn: "payload", idColumn: "id" },
  { table: "tenants", sqlColumn: "name_enc", fieldColumn: "name", idColumn: "id", tenantColumn: "id" },
];

export function tenantColumnOf(column: EncryptedColumn): string {
  return column.tenantColumn ?? "tenant_id";
}
