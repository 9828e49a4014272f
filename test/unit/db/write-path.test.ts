/**
 * No write without its event (issue 14 point 2): the one write path (src/db/write-path.ts) refuses
 * and rolls back a write that changed rows and recorded no audit event, whichever way in the
 * domain could try: a tenant's door, the platform's, a tenant reached from a platform write, a
 * bookkeeping write nested inside an action, a cast through a bookkeeping handle, an event of
 * another tenant. Real SQLite file, real sealer.
 */
import { createHmac, randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { HmacAuditSealer } from "../../../src/audit/seal.js";
import { Database, PLATFORM_LOG } from "../../../src/db/db.js";
import type { LicensingRepository } from "../../../src/db/repositories/licensing.js";
import type { SessionRepository } from "../../../src/db/repositories/sessions.js";
import type { TenantDb } from "../../../src/db/tenant-db.js";
import { mintTenantScope } from "../../../src/db/tenant-scope.js";
import { MissingAuditEventError } from "../../../src/db/write-path.js";
import type { DomainEvent } from "../../../src/vocabulary/events.js";
import { ROOT, tempDir } from "../../helpers.js";

const T0 = "2026-01-01T00:00:00.000Z";
const LATER = "2026-02-01T00:00:00.000Z";
const blob = (text: string): Uint8Array => new Uint8Array(Buffer.from(text));
const event = (tenantId: string | null): DomainEvent => ({
  event: "user.created",
  sensitivity: "security",
  severity: "info",
  tenantId,
  actor: { type: "system", id: "test" },
  payload: {},
});
const user = (id: string) => ({
  id,
  kind: "human" as const,
  emailLookup: blob(`${id}-lookup`),
  emailEnc: blob("x"),
  nameEnc: blob("x"),
  role: "member" as const,
  auditor: false,
  passwordHash: null,
  status: "active" as const,
  createdAt: T0,
  updatedAt: T0,
});
const tenantRow = (id: string) => ({
  id,
  slug: id,
  nameEnc: null,
  kind: "customer" as const,
  status: "active" as const,
  accessTokenTtlSeconds: 28_800,
  createdAt: T0,
});

describe("the write path: no write without its event", () => {
  let db: Database;
  let beta: TenantDb;

  beforeEach(async () => {
    const dir = tempDir("vecto-write-path-");
    db = Database.open(join(dir.path, "vecto.db"));
    const key = randomBytes(32);
    db.setAuditSealer(new HmacAuditSealer({ mac: (data) => createHmac("sha256", key).update(data).digest() }));
    await db.write((tx) => {
      tx.tenants.create(tenantRow("beta"));
      tx.audit({ ...event("beta"), event: "tenant.created" });
    });
    beta = db.forTenant(mintTenantScope("beta", { type: "system", id: "test" }));
    await beta.write((tx) => {
      tx.users.insert(user("b-1"));
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
      tx.audit(event("beta"));
    });
    return () => {
      db.close();
      dir.cleanup();
    };
  });

  it("refuses a tenant write that changed rows without recording an event, and keeps nothing of it", async () => {
    const size = beta.auditLog.size();
    await expect(beta.write((tx) => tx.users.insert(user("b-2")))).rejects.toThrow(MissingAuditEventError);
    expect(beta.users.get("b-2")).toBeUndefined();
    expect(beta.auditLog.size()).toBe(size);
  });

  it("refuses a platform write likewise, and one that reaches a tenant from the platform", async () => {
    await expect(db.write((tx) => tx.tenants.create(tenantRow("gamma")))).rejects.toThrow(MissingAuditEventError);
    expect(db.tenants.get("gamma")).toBeUndefined();
    await expect(db.write((tx) => tx.tenant("beta").users.insert(user("b-3")))).rejects.toThrow(MissingAuditEventError);
    expect(beta.users.get("b-3")).toBeUndefined();
  });

  it("commits a change with its event, both or neither; a write that changes nothing needs none", async () => {
    const size = beta.auditLog.size();
    await beta.write((tx) => {
      tx.users.insert(user("b-4"));
      tx.audit(event("beta"));
    });
    expect(beta.users.get("b-4")?.id).toBe("b-4");
    expect(beta.auditLog.size()).toBe(size + 1);
    await expect(
      beta.write((tx) => {
        tx.users.insert(user("b-5"));
        tx.audit(event("beta"));
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
        tx.users.insert(user("b-6"));
        tx.audit(event("alpha"));
      }),
    ).rejects.toThrow(/only that tenant's events/);
    await expect(
      beta.write((tx) => {
        tx.users.insert(user("b-6"));
        tx.audit(event(null));
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
        tx.users.insert(user("b-7"));
        tx.audit(event("beta"));
      });
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
      tx.users.insert(user("b-8"));
      tx.audit(event("beta"));
    });
    await expect(beta.write((tx) => tx.users.insert(user("b-9")))).rejects.toThrow(MissingAuditEventError);
    await beta.bookkeep("credential-use", (tx) => tx.sessions.touch("s-1", LATER));
    expect(heard).toEqual([["beta"]]);
  });

  it("no other code in src opens a write transaction on the database: the write path is the one way in", () => {
    // The keystore is its own file; migrations run at open, before any request; the exports and
    // snapshots open read transactions for a consistent view.
    const allowed: Record<string, RegExp> = {
      "src/db/write-path.ts": /\.transaction\(/,
      "src/db/keystore.ts": /\.transaction\(/,
      "src/db/migrate.ts": /\.transaction\(/,
      "src/db/snapshot.ts": /exec\("BEGIN"\)/,
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
