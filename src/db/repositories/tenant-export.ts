/**
 * Every row a tenant owns, for a per-tenant backup. Tenant-owned tables are found in the database
 * itself (a `tenant_id` column declared NOT NULL, the rule the tenancy test applies to the
 * migrations), so a table added by a later migration is included the day it lands. All tables are
 * read inside one read transaction: the rows form one consistent state.
 *
 * Values leave as they are stored: content columns stay sealed with the tenant's data key.
 */
import { existsSync } from "node:fs";
import type BetterSqlite3 from "better-sqlite3";
import { openSqlite } from "../sqlite.js";

export type ExportValue = string | number | null | { readonly base64: string };
export type ExportRow = Readonly<Record<string, ExportValue>>;

export class TenantExportError extends Error {
  override readonly name = "TenantExportError";
}

interface OwnedTable {
  readonly name: string;
  /** Primary-key columns, or rowid: a stable row order (WITHOUT ROWID tables have no rowid). */
  readonly orderBy: string;
}

function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** The tables with a NOT NULL tenant_id column, in name order. */
function tenantOwnedTables(handle: BetterSqlite3.Database): OwnedTable[] {
  const tables = handle
    .prepare<[], { name: string }>(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .all();
  return tables.flatMap(({ name }) => {
    const columns = handle.pragma(`table_info(${quoteIdentifier(name)})`) as {
      name: string;
      notnull: number;
      pk: number;
    }[];
    if (!columns.some((c) => c.name === "tenant_id" && c.notnull === 1)) return [];
    const pk = columns
      .filter((c) => c.pk > 0)
      .sort((a, b) => a.pk - b.pk)
      .map((c) => quoteIdentifier(c.name));
    return [{ name, orderBy: pk.length > 0 ? pk.join(", ") : "rowid" }];
  });
}

function exportValue(value: unknown): ExportValue {
  if (value === null || typeof value === "string" || typeof value === "number") return value;
  if (Buffer.isBuffer(value)) return { base64: value.toString("base64") };
  if (typeof value === "bigint") return value.toString();
  throw new TenantExportError(`unexpected column type ${typeof value}`);
}

function exportRow(row: Record<string, unknown>): ExportRow {
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, exportValue(v)]));
}

/**
 * Calls `visit(table, row)` for the tenant's row of `tenants` and every row of every tenant-owned
 * table, all from one snapshot. `visit` must be synchronous (the read transaction is open).
 * Returns the tables visited, so empty ones are still listed.
 */
export function exportTenantRows(
  databaseFile: string,
  tenantId: string,
  visit: (table: string, row: ExportRow) => void,
): string[] {
  if (!existsSync(databaseFile)) throw new TenantExportError(`${databaseFile} does not exist`);
  const handle = openSqlite(databaseFile, false);
  handle.pragma("query_only = ON");
  try {
    handle.exec("BEGIN");
    try {
      const tenant = handle
        .prepare<[string], Record<string, unknown>>("SELECT * FROM tenants WHERE id = ? AND kind = 'customer'")
        .get(tenantId);
      if (!tenant) throw new TenantExportError(`no customer tenant ${tenantId}`);
      visit("tenants", exportRow(tenant));
      const tables = tenantOwnedTables(handle);
      for (const table of tables) {
        // Table names come from sqlite_master, never from input; every statement binds tenant_id.
        const rows = handle.prepare<[string], Record<string, unknown>>(
          `SELECT * FROM ${quoteIdentifier(table.name)} WHERE tenant_id = ? ORDER BY ${table.orderBy}`,
        );
        for (const row of rows.iterate(tenantId)) visit(table.name, exportRow(row));
      }
      return ["tenants", ...tables.map((t) => t.name)];
    } finally {
      handle.exec("COMMIT");
    }
  } finally {
    handle.close();
  }
}
