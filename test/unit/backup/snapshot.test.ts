/** The db-layer pieces of backups: a pinned, consistent snapshot of both files while another connection writes; reading live facts without leaving a trace. */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { inspectSnapshot, readLiveFacts, snapshotDatabases } from "../../../src/db/snapshot.js";
import { exportTenantRows } from "../../../src/db/repositories/tenant-export.js";
import { testDir } from "../../helpers.js";

describe("database snapshots", () => {
  function liveFiles(d: string): { data: BetterSqlite3.Database; keys: BetterSqlite3.Database } {
    const data = new BetterSqlite3(join(d, "vecto.db"));
    data.pragma("journal_mode = WAL");
    data.exec(
      "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT, checksum TEXT, applied_at TEXT); INSERT INTO schema_migrations VALUES (7, 'x', 'y', 'z');",
    );
    data.exec(
      "CREATE TABLE installation (id INTEGER PRIMARY KEY, installation_id TEXT, created_at TEXT); INSERT INTO installation VALUES (1, 'inst-1', 'now');",
    );
    data.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)");
    const insert = data.prepare("INSERT INTO t (v) VALUES (randomblob(2000))");
    data.transaction(() => {
      for (let i = 0; i < 3000; i++) insert.run();
    })();
    const keys = new BetterSqlite3(join(d, "keys.db"));
    keys.pragma("journal_mode = WAL");
    keys.exec("CREATE TABLE k (id INTEGER PRIMARY KEY); INSERT INTO k VALUES (1);");
    return { data, keys };
  }

  it("copies both files as of one moment while another connection keeps writing, privately", async () => {
    const live = testDir();
    const out = testDir();
    const { data, keys } = liveFiles(live);
    const insert = data.prepare("INSERT INTO t (v) VALUES (randomblob(2000))");
    let steps = 0;
    await snapshotDatabases(
      { databaseFile: join(live, "vecto.db"), keystoreFile: join(live, "keys.db") },
      { databaseFile: join(out, "vecto.db"), keystoreFile: join(out, "keys.db") },
      () => {
        // Writes between backup steps, to both files: none may appear in the copy.
        steps++;
        insert.run();
        keys.prepare("INSERT INTO k DEFAULT VALUES").run();
      },
    );
    expect(steps).toBeGreaterThan(1);
    const copy = new BetterSqlite3(join(out, "vecto.db"), { readonly: true });
    const keyCopy = new BetterSqlite3(join(out, "keys.db"), { readonly: true });
    expect(copy.prepare("SELECT count(*) AS n FROM t").get()).toEqual({ n: 3000 });
    expect(keyCopy.prepare("SELECT count(*) AS n FROM k").get()).toEqual({ n: 1 });
    expect(data.prepare("SELECT count(*) AS n FROM t").get()).toEqual({ n: 3000 + steps });
    copy.close();
    keyCopy.close();
    for (const name of ["vecto.db", "keys.db"]) expect(statSync(join(out, name)).mode & 0o777).toBe(0o600);
    expect(inspectSnapshot(join(out, "vecto.db"), { full: true })).toEqual({
      problems: [],
      schemaVersion: 7,
      installationId: "inst-1",
    });
    data.close();
    keys.close();
  });

  it("reads the live facts and leaves the data directory exactly as it was", () => {
    const live = testDir();
    const { data, keys } = liveFiles(live);
    data.exec("CREATE TABLE audit_events (tenant_id TEXT, seq INTEGER, event TEXT, payload TEXT, timestamp TEXT)");
    data
      .prepare("INSERT INTO audit_events VALUES ('_platform', 0, 'tenant.erased', ?, '2026-01-01T00:00:00Z')")
      .run(JSON.stringify({ erasedTenantId: "t-1", slug: "acme" }));
    data
      .prepare("INSERT INTO audit_events VALUES ('t-2', 0, 'tenant.erased', ?, '2026-01-01T00:00:00Z')")
      .run(JSON.stringify({ erasedTenantId: "not-platform" }));
    data.pragma("wal_checkpoint(TRUNCATE)");
    data.close();
    keys.close();
    const before = readdirSync(live).sort();
    const bytes = readFileSync(join(live, "vecto.db"));
    expect(readLiveFacts(join(live, "vecto.db"))).toEqual({
      installationId: "inst-1",
      erasedTenants: [{ tenantId: "t-1", erasedAt: "2026-01-01T00:00:00Z" }],
      erasedContent: [],
    });
    expect(readdirSync(live).sort()).toEqual(before);
    expect(readFileSync(join(live, "vecto.db")).equals(bytes)).toBe(true);
  });

  it("exports a tenant's rows of every table with a NOT NULL tenant_id, WITHOUT ROWID tables too, blobs as base64", () => {
    const d = testDir();
    const db = new BetterSqlite3(join(d, "vecto.db"));
    db.exec(`
      CREATE TABLE tenants (id TEXT PRIMARY KEY, kind TEXT);
      INSERT INTO tenants VALUES ('a', 'customer'), ('b', 'customer'), ('p', 'platform');
      CREATE TABLE notes (id INTEGER PRIMARY KEY, tenant_id TEXT NOT NULL, body BLOB);
      INSERT INTO notes (tenant_id, body) VALUES ('a', x'0102'), ('b', x'03'), ('a', NULL);
      CREATE TABLE terms (tenant_id TEXT NOT NULL, term BLOB NOT NULL, PRIMARY KEY (tenant_id, term)) WITHOUT ROWID;
      INSERT INTO terms VALUES ('a', x'ff'), ('b', x'ee');
      CREATE TABLE loose (tenant_id TEXT, x INTEGER);
      INSERT INTO loose VALUES ('a', 1);
    `);
    db.close();
    const seen: [string, unknown][] = [];
    const tables = exportTenantRows(join(d, "vecto.db"), "a", (table, row) => seen.push([table, row]));
    expect(tables).toEqual(["tenants", "notes", "terms"]);
    expect(seen).toEqual([
      ["tenants", { id: "a", kind: "customer" }],
      ["notes", { id: 1, tenant_id: "a", body: { base64: "AQI=" } }],
      ["notes", { id: 3, tenant_id: "a", body: null }],
      ["terms", { tenant_id: "a", term: { base64: "/w==" } }],
    ]);
    expect(() => exportTenantRows(join(d, "vecto.db"), "p", () => undefined)).toThrow(/no customer tenant p/);
  });
});
