/**
 * A request's reads in one read transaction (TenantDb.read, src/db/db.ts), on a real SQLite file:
 * they see one snapshot, however another connection commits in between; nothing of it outlives
 * the call, whether fn returns, throws or tries to keep the transaction across an await.
 */
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Database } from "../../../src/db/db.js";
import type { TenantDb } from "../../../src/db/tenant-db.js";
import { mintTenantScope } from "../../../src/db/tenant-scope.js";
import { tempDir } from "../../helpers.js";
import { openSealed, tenantRow, testEvent, userRow } from "./rows.js";

describe("a tenant's reads in one read transaction", () => {
  let dir: { path: string; cleanup: () => void };
  let db: Database;
  let door: TenantDb;
  /** Another connection to the same file, as the CLI or sqlite3 would be. */
  let other: BetterSqlite3.Database;
  const setRole = (role: string): void => {
    other.prepare("UPDATE users SET role = ? WHERE id = 'u-1'").run(role);
  };

  beforeEach(async () => {
    dir = tempDir("vecto-read-transaction-");
    const file = join(dir.path, "vecto.db");
    db = openSealed(file);
    await db.write((tx) => {
      tx.tenants.create(tenantRow("beta"));
      tx.tenant("beta").users.insert(userRow("u-1"));
      tx.audit(testEvent("beta"));
    });
    door = db.forTenant(mintTenantScope("beta", { type: "system", id: "test" }));
    other = new BetterSqlite3(file);
  });
  afterEach(() => {
    other.close();
    db.close();
    dir.cleanup();
  });

  it("sees one snapshot: a commit made between two of its reads shows only after it", () => {
    const [first, second] = door.read(() => {
      const before = door.users.get("u-1")?.role;
      setRole("viewer");
      return [before, door.users.get("u-1")?.role];
    });
    expect([first, second]).toEqual(["member", "member"]);
    expect(door.users.get("u-1")?.role).toBe("viewer");
  });

  it("outside it, each statement reads the newest commit (the control case)", () => {
    const before = door.users.get("u-1")?.role;
    setRole("viewer");
    expect([before, door.users.get("u-1")?.role]).toEqual(["member", "viewer"]);
  });

  it("ends its transaction when fn throws: the error comes through, later reads see later commits", async () => {
    expect(() =>
      door.read(() => {
        door.users.get("u-1");
        throw new Error("refused");
      }),
    ).toThrow("refused");
    setRole("viewer");
    expect(door.users.get("u-1")?.role).toBe("viewer");
    await door.write((tx) => {
      tx.users.update("u-1", { role: "member" }, tx.now);
      tx.audit(testEvent("beta"));
    });
    expect(door.users.get("u-1")?.role).toBe("member");
  });

  it("refuses a function that returns a Promise, and keeps no transaction open for it", async () => {
    expect(() => door.read(async () => door.users.get("u-1"))).toThrow(TypeError);
    setRole("viewer");
    expect(door.users.get("u-1")?.role).toBe("viewer");
    await expect(
      door.write((tx) => {
        tx.audit(testEvent("beta"));
        return "written";
      }),
    ).resolves.toBe("written");
  });

  it("inside a write, runs in the write's own transaction and sees its uncommitted change", async () => {
    const seen = await door.write((tx) => {
      tx.users.update("u-1", { role: "viewer" }, tx.now);
      tx.audit(testEvent("beta"));
      return door.read(() => door.users.get("u-1")?.role);
    });
    expect(seen).toBe("viewer");
  });
});
