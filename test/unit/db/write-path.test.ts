/**
 * No write without its event (issue 14 point 2): the one write path (src/db/write-path.ts) refuses
 * and rolls back a write that changed rows and recorded no audit event, whichever way in the
 * domain could try: a tenant's door, the platform's, a tenant reached from a platform write, a
 * bookkeeping write nested inside an action, a cast through a bookkeeping handle, an event of
 * another tenant. Real SQLite file, real sealer.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { beforeEach, describe, expect, it } from "vitest";
import { Database, PLATFORM_LOG } from "../../../src/db/db.js";
import type { LicensingRepository } from "../../../src/db/repositories/licensing.js";
import type { SessionRepository } from "../../../src/db/repositories/sessions.js";
import type { TenantDb } from "../../../src/db/tenant-db.js";
import { mintTenantScope } from "../../../src/db/tenant-scope.js";
import { MissingAuditEventError } from "../../../src/db/write-path.js";
import { ROOT, tempDir } from "../../helpers.js";
import { openSealed, T0, tenantRow, testEvent, userRow } from "./rows.js";

const LATER = "2026-02-01T00:00:00.000Z";

/** A database with tenant "beta", one user b-1 and one session s-1; `close` removes it. */
async function openBeta(): Promise<{ db: Database; beta: TenantDb; file: string; close: () => void }> {
  const dir = tempDir("vecto-write-path-");
  const file = join(dir.path, "vecto.db");
  const db = openSealed(file);
  await db.write((tx) => {
    tx.tenants.create(tenantRow("beta"));
    tx.audit(testEvent("beta", "tenant.created"));
  });
  const beta = db.forTenant(mintTenantScope("beta", { type: "system", id: "test" }));
  await beta.write((tx) => {
    tx.users.insert(userRow("b-1"));
    tx.sessions.insert({
      id: "s-1",
      userId: "b-1",
      createdAt: T0,
      expiresAt: LATER,
      lastUsedAt: T0,
      revokedAt: null,
      revokeReason: null,
      client: "test",
    });
    tx.audit(testEvent("beta"));
  });
  return {
    db,
    beta,
    file,
    close: () => {
      db.close();
      dir.cleanup();
    },
  };
}

describe("the write path: no write without its event", () => {
  let db: Database;
  let beta: TenantDb;

  beforeEach(async () => {
    const opened = await openBeta();
    ({ db, beta } = opened);
    return opened.close;
  });

  it("refuses a tenant write that changed rows without recording an event, and keeps nothing of it", async () => {
    const size = beta.auditLog.size();
    await expect(beta.write((tx) => tx.users.insert(userRow("b-2")))).rejects.toThrow(MissingAuditEventError);
    expect(beta.users.get("b-2")).toBeUndefined();
    expect(beta.auditLog.size()).toBe(size);
  });

  it("refuses a platform write likewise, and one that reaches a tenant from the platform", async () => {
    await expect(db.write((tx) => tx.tenants.create(tenantRow("gamma")))).rejects.toThrow(MissingAuditEventError);
    expect(db.tenants.get("gamma")).toBeUndefined();
    await expect(db.write((tx) => tx.tenant("beta").users.insert(userRow("b-3")))).rejects.toThrow(
      MissingAuditEventError,
    );
    expect(beta.users.get("b-3")).toBeUndefined();
  });

  it("commits a change with its event, both or neither; a write that changes nothing needs none", async () => {
    const size = beta.auditLog.size();
    await beta.write((tx) => {
      tx.users.insert(userRow("b-4"));
      tx.audit(testEvent("beta"));
    });
    expect(beta.users.get("b-4")?.id).toBe("b-4");
    expect(beta.auditLog.size()).toBe(size + 1);
    await expect(
      beta.write((tx) => {
        tx.users.insert(userRow("b-5"));
        tx.audit(testEvent("beta"));
        throw new Error("the domain changed its mind");
      }),
    ).rejects.toThrow("the domain changed its mind");
    expect(beta.users.get("b-5")).toBeUndefined();
    expect(beta.auditLog.size()).toBe(size + 1);
    // A write that only read, or whose change matched no row, has nothing to record.
    expect(await beta.write((tx) => tx.users.get("b-4")?.id)).toBe("b-4");
    expect(await beta.write((tx) => tx.users.delete("nobody"))).toBe(false);
    expect(beta.auditLog.size()).toBe(size + 1);
  });

  it("a tenant's transaction records only that tenant's events: another tenant's event does not pay for the change", async () => {
    await expect(
      beta.write((tx) => {
        tx.users.insert(userRow("b-6"));
        tx.audit(testEvent("alpha"));
      }),
    ).rejects.toThrow(/only that tenant's events/);
    await expect(
      beta.write((tx) => {
        tx.users.insert(userRow("b-6"));
        tx.audit(testEvent(null));
      }),
    ).rejects.toThrow(/only that tenant's events/);
    expect(beta.users.get("b-6")).toBeUndefined();
    expect(db.auditLog.size(PLATFORM_LOG)).toBe(0);
  });

  it("a bookkeeping write nested inside an action is part of the action, so the action still needs its event", async () => {
    await expect(
      beta.write(() => {
        void beta.bookkeep("credential-use", (tx) => tx.sessions.touch("s-1", LATER));
      }),
    ).rejects.toThrow(MissingAuditEventError);
    expect(beta.sessions.get("s-1")?.lastUsedAt).toBe(T0);
  });

  it("an action cannot hide inside a bookkeeping write", async () => {
    let inner: Promise<void> | undefined;
    await beta.bookkeep("credential-use", () => {
      inner = beta.write((tx) => {
        tx.users.insert(userRow("b-7"));
        tx.audit(testEvent("beta"));
      });
      // Observed below, once the bookkeeping write is durable: handled now, not reported as unhandled meanwhile.
      inner.catch(() => undefined);
    });
    await expect(inner).rejects.toThrow(/cannot run inside a bookkeeping transaction/);
    expect(beta.users.get("b-7")).toBeUndefined();
  });

  it("a bookkeeping handle holds only its named methods: a cast reaches no other change", async () => {
    await expect(
      beta.bookkeep("credential-use", (tx) =>
        (tx.sessions as unknown as SessionRepository).revoke("s-1", "by a cast", LATER),
      ),
    ).rejects.toThrow(TypeError);
    expect(beta.sessions.get("s-1")?.revokedAt).toBeNull();
    await expect(
      beta.bookkeep("notification-read", (tx) => (tx as unknown as { users: unknown }).users),
    ).resolves.toBeUndefined();
    const license = {
      sequence: 1,
      licenseId: "by-a-cast",
      kid: "k",
      text: "x",
      installedAt: T0,
      installedBy: "nobody",
    };
    await expect(
      db.bookkeep("license-marks", (tx) => (tx.licensing as unknown as LicensingRepository).insertLicense(license)),
    ).rejects.toThrow(TypeError);
    expect(db.licensing.currentLicense()).toBeUndefined();
  });

  it("tells its listeners after a commit which logs got events, and nothing about a write that rolled back", async () => {
    const heard: string[][] = [];
    db.onCommitted((committed) => heard.push([...committed.logIds]));
    await beta.write((tx) => {
      tx.users.insert(userRow("b-8"));
      tx.audit(testEvent("beta"));
    });
    await expect(beta.write((tx) => tx.users.insert(userRow("b-9")))).rejects.toThrow(MissingAuditEventError);
    await beta.bookkeep("credential-use", (tx) => tx.sessions.touch("s-1", LATER));
    expect(heard).toEqual([["beta"]]);
  });

  it("no other code in src opens a write transaction on the database: the write path is the one way in", () => {
    // The keystore is its own file; migrations run at open, before any request; the exports and
    // snapshots open read transactions for a consistent view, and so do a request's reads (TenantDb.read).
    const allowed: Record<string, RegExp> = {
      "src/db/write-path.ts": /prepare\("BEGIN IMMEDIATE"\)/,
      "src/db/keystore.ts": /\.transaction\(/,
      "src/db/migrate.ts": /\.transaction\(/,
      "src/db/snapshot.ts": /exec\("BEGIN"\)/,
      "src/db/read-transaction.ts": /\.deferred\(/,
      "src/db/repositories/tenant-export.ts": /exec\("BEGIN"\)/,
      "src/db/data-dir-lock.ts": /exec\("BEGIN EXCLUSIVE; COMMIT"\)/,
    };
    const found: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (entry.name.endsWith(".ts") && /\.transaction\(|["'`]\s*BEGIN\b/.test(readFileSync(path, "utf8")))
          found.push(relative(ROOT, path));
      }
    };
    walk(join(ROOT, "src"));
    expect(found.sort()).toEqual(Object.keys(allowed).sort());
    for (const [file, pattern] of Object.entries(allowed))
      expect(readFileSync(join(ROOT, file), "utf8")).toMatch(pattern);
  });
});

describe("group commit: writes of one turn share one durable transaction", () => {
  let db: Database;
  let beta: TenantDb;
  let file: string;

  beforeEach(async () => {
    const opened = await openBeta();
    ({ db, beta, file } = opened);
    return opened.close;
  });

  /** A write of user `id` with its event. */
  const addUser = (id: string) =>
    beta.write((tx) => {
      tx.users.insert(userRow(id));
      tx.audit(testEvent("beta"));
    });

  it("commits the writes queued in one turn once, and each sees the ones before it", async () => {
    const heard: string[][] = [];
    db.onCommitted((committed) => heard.push([...committed.logIds].sort()));
    const seen = (): Promise<string | null> =>
      beta.write((tx) => {
        tx.audit(testEvent("beta"));
        return tx.users.get("b-20")?.id ?? null;
      });
    const results = await Promise.all([seen(), addUser("b-20"), seen(), db.write((tx) => tx.audit(testEvent(null)))]);
    // In the order they were queued: before b-20's write, it is not there; after it, it is.
    expect([results[0], results[2]]).toEqual([null, "b-20"]);
    expect(heard).toEqual([[PLATFORM_LOG, "beta"].sort()]);
  });

  it("one write's failure rolls back that write alone: the others of its batch commit, with their events", async () => {
    const size = beta.auditLog.size();
    const settled = await Promise.allSettled([
      addUser("b-30"),
      beta.write((tx) => {
        tx.users.insert(userRow("b-31"));
        tx.audit(testEvent("beta"));
        throw new Error("the request failed after its insert");
      }),
      beta.write((tx) => tx.users.insert(userRow("b-32"))),
      addUser("b-33"),
    ]);
    expect(settled.map((s) => s.status)).toEqual(["fulfilled", "rejected", "rejected", "fulfilled"]);
    expect((settled[2] as PromiseRejectedResult).reason).toBeInstanceOf(MissingAuditEventError);
    expect(["b-30", "b-31", "b-32", "b-33"].map((id) => beta.users.get(id) !== undefined)).toEqual([
      true,
      false,
      false,
      true,
    ]);
    expect(beta.auditLog.size()).toBe(size + 2);
  });

  it("settles a write only once its batch is committed: another connection reads it then", async () => {
    const other = new BetterSqlite3(file, { readonly: true });
    try {
      const count = (): number =>
        (other.prepare("SELECT count(*) AS n FROM users WHERE id LIKE 'b-4%'").get() as { n: number }).n;
      const writes = [addUser("b-40"), addUser("b-41")];
      expect(count()).toBe(0);
      await writes[0];
      expect(count()).toBe(2);
    } finally {
      other.close();
    }
  });

  it("a batch that cannot commit (another writer holds the database) rejects every write of it and keeps none", async () => {
    const other = new BetterSqlite3(file);
    other.pragma("busy_timeout = 0");
    other.exec("BEGIN IMMEDIATE");
    let released = false;
    try {
      const settled = await Promise.allSettled([addUser("b-50"), addUser("b-51")]);
      expect(settled.map((s) => s.status)).toEqual(["rejected", "rejected"]);
      expect((settled[0] as PromiseRejectedResult).reason).toMatchObject({ code: "SQLITE_BUSY" });
      other.exec("ROLLBACK");
      released = true;
      expect([beta.users.get("b-50"), beta.users.get("b-51")]).toEqual([undefined, undefined]);
      await addUser("b-52");
      expect(beta.users.get("b-52")?.id).toBe("b-52");
    } finally {
      if (!released) other.exec("ROLLBACK");
      other.close();
    }
  }, 20_000);

  it("closing the database commits the writes still queued: none is dropped", async () => {
    const queued = addUser("b-60");
    db.close();
    await expect(queued).resolves.toBeUndefined();
    const reopened = Database.open(file);
    try {
      expect(reopened.forTenant(mintTenantScope("beta", { type: "system", id: "test" })).users.get("b-60")?.id).toBe(
        "b-60",
      );
    } finally {
      reopened.close();
    }
  });

  it("refuses a write function that returns a promise (it would run outside its transaction)", async () => {
    const asyncWrite = beta.write((async () => undefined) as unknown as () => void);
    await expect(asyncWrite).rejects.toThrow("a write function must not return a promise");
  });
});
