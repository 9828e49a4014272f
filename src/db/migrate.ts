/**
 * Applies versioned SQL migrations, each in its own transaction, and records them with a
 * checksum. Refuses to run against a database written by a newer binary (no silent downgrade)
 * or one whose applied migrations were edited afterwards.
 */
import { createHash } from "node:crypto";
import type BetterSqlite3 from "better-sqlite3";
import type { Migration } from "./migrations/index.js";

export class SchemaError extends Error {
  override readonly name = "SchemaError";
}

interface AppliedRow {
  version: number;
  name: string;
  checksum: string;
}

const CREATE_LEDGER = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version    INTEGER PRIMARY KEY,
  name       TEXT NOT NULL,
  checksum   TEXT NOT NULL,
  applied_at TEXT NOT NULL
) STRICT`;

function checksum(sql: string): string {
  return createHash("sha256").update(sql).digest("hex");
}

function checkApplied(applied: readonly AppliedRow[], known: readonly Migration[]): void {
  const newest = known.at(-1)?.version ?? 0;
  for (const row of applied) {
    const migration = known.find((m) => m.version === row.version);
    if (!migration) {
      throw new SchemaError(
        `database schema version ${row.version} is newer than this binary supports (${newest}); upgrade ` +
          `the binary or restore a matching backup`,
      );
    }
    if (checksum(migration.sql) !== row.checksum) {
      throw new SchemaError(`migration ${row.name} was changed after it was applied; refusing to start`);
    }
  }
}

/** Returns the versions applied by this call. */
export function migrate(handle: BetterSqlite3.Database, known: readonly Migration[], now: () => string): number[] {
  handle.exec(CREATE_LEDGER);
  const applied = handle
    .prepare<[], AppliedRow>("SELECT version, name, checksum FROM schema_migrations ORDER BY version")
    .all();
  checkApplied(applied, known);
  const done = new Set(applied.map((row) => row.version));
  const record = handle.prepare(
    "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)",
  );
  const fresh: number[] = [];
  for (const migration of known) {
    if (done.has(migration.version)) continue;
    handle
      .transaction(() => {
        handle.exec(migration.sql);
        record.run(migration.version, migration.name, checksum(migration.sql), now());
      })
      .immediate();
    fresh.push(migration.version);
  }
  return fresh;
}

export function schemaVersion(handle: BetterSqlite3.Database): number {
  const row = handle
    .prepare<[], { version: number | null }>("SELECT max(version) AS version FROM schema_migrations")
    .get();
  return row?.version ?? 0;
}
