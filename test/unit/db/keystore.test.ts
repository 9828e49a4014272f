/** Tenant keys live in their own file, separate from the data; older databases have theirs moved over safely. */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { Database, keystorePath } from "../../../src/db/db.js";
import { migrate } from "../../../src/db/migrate.js";
import { migrations } from "../../../src/db/migrations/index.js";
import { tempDir } from "../../helpers.js";

const LABEL = "env:0123456789abcdef";
const key = (tenantId: string, version: number, wrapped = new Uint8Array(60).fill(version)) => ({
  tenantId,
  version,
  wraps: [{ masterLabel: LABEL, wrapped }],
  createdAt: "2026-01-01T00:00:00.000Z",
});

describe("keystore", () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => cleanups.splice(0).forEach((fn) => fn()));
  function dir(): string {
    const d = tempDir();
    cleanups.push(d.cleanup);
    return d.path;
  }

  it("keeps keys in keys.db, not in the data database", () => {
    const file = join(dir(), "vecto.db");
    const db = Database.open(file);
    db.keystore.insertTenantKey(key("t1", 1));
    db.close();
    expect(keystorePath(file)).toBe(join(file, "..", "keys.db"));
    expect(statSync(keystorePath(file)).mode & 0o077).toBe(0);
    const data = new BetterSqlite3(file, { readonly: true });
    expect(data.prepare("SELECT name FROM sqlite_master WHERE name = 'tenant_keys'").get()).toBeUndefined();
    data.close();
    const keys = new BetterSqlite3(keystorePath(file), { readonly: true });
    expect(keys.prepare("SELECT tenant_id, version FROM tenant_keys").all()).toEqual([{ tenant_id: "t1", version: 1 }]);
    keys.close();
  });

  it("moves the keys of an older database into the keystore, then drops the old table", () => {
    const file = join(dir(), "vecto.db");
    const old = new BetterSqlite3(file);
    migrate(old, migrations.slice(0, 4), () => "2026-01-01T00:00:00.000Z");
    const insert = old.prepare(
      "INSERT INTO tenant_keys (tenant_id, version, master_label, wrapped, status, created_at) VALUES (?, ?, ?, ?, ?, ?)",
    );
    for (const k of [key("_platform", 1), key("t1", 1), key("t1", 2)])
      insert.run(k.tenantId, k.version, LABEL, Buffer.from(k.wraps[0]?.wrapped ?? []), "active", k.createdAt);
    old.close();
    expect(existsSync(keystorePath(file))).toBe(false);
    const db = Database.open(file);
    expect(db.keystore.listTenantKeys("t1").map((k) => k.version)).toEqual([1, 2]);
    expect(db.keystore.listTenantKeys("t1")[1]?.wraps).toEqual([
      { masterLabel: LABEL, wrapped: new Uint8Array(60).fill(2) },
    ]);
    expect(db.keystore.masters()).toEqual([
      expect.objectContaining({ label: LABEL, version: 1, kind: "env", wraps: 3, retiredAt: null }),
    ]);
    expect(db.keystore.listTenantKeys("_platform")).toHaveLength(1);
    expect(db.schemaVersion()).toBe(migrations.at(-1)?.version);
    db.close();
  });

  it("destroys a tenant's keys and leaves no copy of them in the file", () => {
    const file = join(dir(), "vecto.db");
    const db = Database.open(file);
    const marker = new Uint8Array(60).fill(0xab);
    db.keystore.insertTenantKey(key("victim", 1, marker));
    db.keystore.insertTenantKey(key("other", 1));
    expect(db.keystore.destroyTenantKeys("victim")).toBe(1);
    expect(db.keystore.listTenantKeys("victim")).toEqual([]);
    expect(db.keystore.listTenantKeys("other")).toHaveLength(1);
    db.close();
    // secure_delete and the checkpoint: the wrapped bytes are gone from the file itself.
    const raw = readFileSync(keystorePath(file));
    expect(raw.includes(Buffer.from(marker))).toBe(false);
  });
});
