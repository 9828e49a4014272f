import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { Database } from "../../../src/db/db.js";
import { migrate, SchemaError } from "../../../src/db/migrate.js";
import { migrations } from "../../../src/db/migrations/index.js";
import { mintTenantScope } from "../../../src/db/tenant-scope.js";
import { tempDir } from "../../helpers.js";
import { openSealed, tenantRow, testEvent, userRow } from "./rows.js";

describe("database", () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => cleanups.splice(0).forEach((fn) => fn()));

  function fresh(): { file: string; db: Database } {
    const dir = tempDir();
    cleanups.push(dir.cleanup);
    const file = join(dir.path, "data", "vecto.db");
    const db = openSealed(file);
    cleanups.unshift(() => db.close());
    return { file, db };
  }

  it("opens with WAL, foreign keys, synchronous=NORMAL (its fsync is WalSync's) and a busy timeout; the keystore with FULL", () => {
    const { file, db } = fresh();
    db.close();
    // Pragmas are per connection: read them on a connection opened by Database itself.
    const raw = new BetterSqlite3(file);
    expect(raw.pragma("journal_mode", { simple: true })).toBe("wal");
    raw.close();
    const again = Database.open(file);
    const handle = (again as unknown as { handle: BetterSqlite3.Database }).handle;
    expect(handle.pragma("foreign_keys", { simple: true })).toBe(1);
    // 1 = NORMAL: COMMIT returns without an fsync; the write path waits for WalSync's before it acknowledges.
    expect(handle.pragma("synchronous", { simple: true })).toBe(1);
    expect(handle.pragma("busy_timeout", { simple: true })).toBe(5000);
    const keystore = (again.keystore as unknown as { handle: BetterSqlite3.Database }).handle;
    expect(keystore.pragma("synchronous", { simple: true })).toBe(2); // 2 = FULL
    again.close();
  });

  it("records every migration with a checksum and applies them only once", () => {
    const { file, db } = fresh();
    expect(db.schemaVersion()).toBe(migrations.at(-1)?.version);
    db.close();
    const raw = new BetterSqlite3(file);
    const rows = raw.prepare("SELECT version, name, checksum FROM schema_migrations").all() as {
      version: number;
      checksum: string;
    }[];
    expect(rows.map((r) => r.version)).toEqual(migrations.map((m) => m.version));
    expect(rows.every((r) => /^[0-9a-f]{64}$/.test(r.checksum))).toBe(true);
    expect(migrate(raw, migrations, () => "now")).toEqual([]);
    raw.close();
  });

  it("rolls a failing migration back whole", () => {
    const raw = new BetterSqlite3(":memory:");
    const broken = [
      ...migrations,
      { version: 99, name: "0099_broken", sql: "CREATE TABLE half (x INTEGER); INSERT INTO nowhere VALUES (1);" },
    ];
    expect(() => migrate(raw, broken, () => "now")).toThrow();
    expect(raw.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'half'").get()).toEqual({ n: 0 });
    expect(raw.prepare("SELECT max(version) AS v FROM schema_migrations").get()).toEqual({
      v: migrations.at(-1)?.version,
    });
    raw.close();
  });

  it("refuses a database written by a newer binary", () => {
    const { file, db } = fresh();
    db.close();
    const raw = new BetterSqlite3(file);
    raw
      .prepare(
        "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (999, '0999_future', 'x', 'now')",
      )
      .run();
    raw.close();
    expect(() => Database.open(file)).toThrow(SchemaError);
    expect(() => Database.open(file)).toThrow(/schema version 999 is newer than this binary supports/);
  });

  it("refuses a migration edited after it was applied", () => {
    const raw = new BetterSqlite3(":memory:");
    migrate(raw, migrations, () => "now");
    const edited = migrations.map((m) => ({ ...m, sql: `${m.sql}\n-- edited` }));
    expect(() => migrate(raw, edited, () => "now")).toThrow(/was changed after it was applied/);
    raw.close();
  });

  it("commits a write whole or not at all", async () => {
    const { db } = fresh();
    await db.write((tx) => {
      tx.tenants.create(tenantRow("t1"));
      tx.audit(testEvent(null));
    });
    await expect(
      db.write((tx) => {
        tx.tenants.create(tenantRow("t2"));
        tx.audit(testEvent(null));
        tx.tenants.create(tenantRow("t1")); // duplicate id: the whole transaction must roll back
      }),
    ).rejects.toThrow(/UNIQUE/);
    expect(db.tenants.list().map((t) => t.id)).toEqual(["t1"]);
    // The event of the rolled-back write went with it.
    expect(db.auditLog.size("_platform")).toBe(1);
  });

  it("gives a TenantDb that sees only its own tenant", async () => {
    const { db } = fresh();
    await db.write((tx) => {
      tx.tenants.create(tenantRow("alpha"));
      tx.tenants.create(tenantRow("beta"));
      tx.audit(testEvent(null));
    });
    const alpha = db.forTenant(mintTenantScope("alpha", { type: "human", id: "u1" }));
    const beta = db.forTenant(mintTenantScope("beta", { type: "human", id: "u2" }));
    await alpha.write((tx) => {
      tx.users.insert(userRow("a-1"));
      tx.audit(testEvent("alpha"));
    });
    await beta.write((tx) => {
      tx.users.insert(userRow("b-1"));
      tx.users.insert(userRow("b-22"));
      tx.audit(testEvent("beta"));
    });
    expect(alpha.tenant.get()?.id).toBe("alpha");
    expect(alpha.users.list(undefined, 10).map((u) => u.id)).toEqual(["a-1"]);
    expect(beta.users.list(undefined, 10).map((u) => u.id)).toEqual(["b-1", "b-22"]);
    // Knowing another tenant's row id is not enough: every read and write binds the tenant.
    expect(alpha.users.get("b-1")).toBeUndefined();
    expect(await alpha.write((tx) => tx.users.update("b-1", { role: "viewer" }, tx.now))).toBe(false);
    expect(await alpha.write((tx) => tx.users.delete("b-1"))).toBe(false);
    expect(beta.users.get("b-1")?.role).toBe("member");
  });

  it("shares one frozen door per tenant across scopes, never one tenant's with another", async () => {
    const { db } = fresh();
    await db.write((tx) => {
      tx.tenants.create(tenantRow("alpha"));
      tx.tenants.create(tenantRow("beta"));
      tx.audit(testEvent(null));
    });
    const alpha = db.forTenant(mintTenantScope("alpha", { type: "human", id: "u1" }));
    expect(db.forTenant(mintTenantScope("alpha", { type: "human", id: "u3" }))).toBe(alpha);
    const beta = db.forTenant(mintTenantScope("beta", { type: "human", id: "u2" }));
    expect(beta).not.toBe(alpha);
    expect([alpha.tenantId, beta.tenantId, beta.tenant.get()?.id]).toEqual(["alpha", "beta", "beta"]);
    // A caller cannot change the shared door for the next request.
    expect(Object.isFrozen(alpha)).toBe(true);
    expect(() => Object.assign(alpha, { users: beta.users })).toThrow(TypeError);
  });

  it("will not mint a tenant scope for the reserved platform id", () => {
    expect(() => mintTenantScope("_platform", { type: "system", id: "x" })).toThrow();
    expect(() => mintTenantScope("", { type: "system", id: "x" })).toThrow();
  });

  it("leaves one consistent file after close: the WAL is checkpointed and removed", async () => {
    const { file, db } = fresh();
    await db.write((tx) => {
      tx.tenants.create(tenantRow("t1"));
      tx.audit(testEvent(null));
    });
    expect(existsSync(`${file}-wal`)).toBe(true);
    db.close();
    expect(existsSync(`${file}-wal`)).toBe(false);
    const raw = new BetterSqlite3(file, { readonly: true });
    expect(raw.prepare("SELECT id FROM tenants").all()).toEqual([{ id: "t1" }]);
    raw.close();
  });

  it("creates the database directory private to the service user", () => {
    const { file } = fresh();
    expect(statSync(join(file, "..")).mode & 0o777).toBe(0o700);
  });
});
