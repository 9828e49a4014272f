/**
 * src/db/encrypted-columns.ts is the list key re-encryption walks: a sealed column missing from
 * it would keep its old key version forever (and block retiring that version), an entry with no
 * column would break the walk. So the list must equal the `*_enc` BLOB columns the migrations
 * create, both ways. The schema is read from SQLite itself after applying every migration to a
 * fresh in-memory database, not by parsing the SQL text.
 */
import BetterSqlite3 from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { ENCRYPTED_COLUMNS, tenantColumnOf, type EncryptedColumn } from "../../../src/db/encrypted-columns.js";
import { migrate } from "../../../src/db/migrate.js";
import { migrations } from "../../../src/db/migrations/index.js";

interface Column {
  readonly name: string;
  readonly type: string;
}

function schemaAfterMigrations(extraSql = ""): Map<string, Column[]> {
  const handle = new BetterSqlite3(":memory:");
  try {
    migrate(handle, migrations, () => new Date(0).toISOString());
    if (extraSql !== "") handle.exec(extraSql);
    const tables = handle
      .prepare<[], { name: string }>(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
      )
      .all();
    return new Map(tables.map((t) => [t.name, handle.pragma(`table_info(${JSON.stringify(t.name)})`) as Column[]]));
  } finally {
    handle.close();
  }
}

/** `table.column` of every sealed column in the schema (by the house naming rule: `*_enc`, BLOB). */
function sealedColumns(schema: Map<string, Column[]>): string[] {
  return [...schema]
    .flatMap(([table, columns]) =>
      columns
        .filter((c) => c.name.endsWith("_enc") && c.type.toUpperCase() === "BLOB")
        .map((c) => `${table}.${c.name}`),
    )
    .sort();
}

function compare(
  schema: Map<string, Column[]>,
  registry: readonly EncryptedColumn[],
): { unregistered: string[]; stale: string[] } {
  const inSchema = sealedColumns(schema);
  const registered = registry.map((c) => `${c.table}.${c.sqlColumn}`).sort();
  return {
    unregistered: inSchema.filter((c) => !registered.includes(c)),
    stale: registered.filter((c) => !inSchema.includes(c)),
  };
}

describe("the encrypted-column registry", () => {
  const schema = schemaAfterMigrations();

  it("names exactly the *_enc BLOB columns the migrations create, both ways", () => {
    expect(sealedColumns(schema).length).toBeGreaterThan(5);
    expect(compare(schema, ENCRYPTED_COLUMNS)).toEqual({ unregistered: [], stale: [] });
    expect(new Set(ENCRYPTED_COLUMNS.map((c) => `${c.table}.${c.sqlColumn}`)).size, "duplicate entries").toBe(
      ENCRYPTED_COLUMNS.length,
    );
  });

  it("every entry's table has its id column and its tenant column (re-encryption works tenant by tenant)", () => {
    for (const entry of ENCRYPTED_COLUMNS) {
      const names = (schema.get(entry.table) ?? []).map((c) => c.name);
      expect(names, `${entry.table}.${entry.idColumn}`).toContain(entry.idColumn);
      expect(names, `${entry.table}.${tenantColumnOf(entry)}`).toContain(tenantColumnOf(entry));
    }
    // Only the tenants table is its own tenant column: anywhere else, "id" would be the row, not the tenant.
    expect(ENCRYPTED_COLUMNS.filter((c) => c.tenantColumn !== undefined).map((c) => c.table)).toEqual(["tenants"]);
  });

  it("the AAD column names are unique per table (two sealed columns of a row must not be swappable)", () => {
    const fields = ENCRYPTED_COLUMNS.map((c) => `${c.table}.${c.fieldColumn}`);
    expect(new Set(fields).size).toBe(fields.length);
  });

  it("covers tenant secrets: value and description, sealed under the row id", () => {
    expect(ENCRYPTED_COLUMNS).toEqual(
      expect.arrayContaining([
        { table: "tenant_secrets", sqlColumn: "value_enc", fieldColumn: "value", idColumn: "id" },
        { table: "tenant_secrets", sqlColumn: "description_enc", fieldColumn: "description", idColumn: "id" },
      ]),
    );
  });

  it("the check can fail: a new sealed column, one added by ALTER TABLE, and a stale entry are all caught", () => {
    const grown = schemaAfterMigrations(
      "CREATE TABLE widgets (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, label_enc BLOB NOT NULL) STRICT; ALTER TABLE projects ADD COLUMN notes_enc BLOB;",
    );
    const stale: EncryptedColumn = { table: "gone", sqlColumn: "thing_enc", fieldColumn: "thing", idColumn: "id" };
    expect(compare(grown, [...ENCRYPTED_COLUMNS, stale])).toEqual({
      unregistered: ["projects.notes_enc", "widgets.label_enc"],
      stale: ["gone.thing_enc"],
    });
  });
});
