/**
 * Read events are appended off the request path (src/audit/read-audit.ts, event-batcher.ts): the
 * read is answered while its event is still queued, and the event is in the log once the batch
 * delay (one second) has passed; closing the services writes what is queued. The clock here is
 * vitest's fake timers (only setTimeout/clearTimeout), so "one second" is exact, never waited for.
 * Also here: who may change the setting, and that the change is itself audited.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { AuditRow } from "../../src/db/repositories/audit-log.js";
import { identityFixture, type Account, type Fixture, type TenantAccount } from "../identity-fixture.js";

type Logged = Omit<AuditRow, "payload"> & { readonly payload: Record<string, unknown> };

describe("read events are written in batches, off the request path", () => {
  let f: Fixture;
  let acme: TenantAccount;
  let member: Account;
  let auditor: Account;

  /** The tenant's log as stored, payloads parsed; `afterSeq` -1 is from the start. */
  const logged = (filter: { afterSeq?: number; event?: string } = {}): Logged[] =>
    f.services.db.auditLog
      .filtered(acme.tenantId, {
        afterSeq: filter.afterSeq ?? -1,
        limit: 10_000,
        ...(filter.event ? { event: filter.event } : {}),
      })
      .map((row) => ({ ...row, payload: JSON.parse(row.payload) as Record<string, unknown> }));
  const readEvents = (): Logged[] => logged().filter((row) => row.event.startsWith("read."));
  /** Moves the fake clock, then lets the write it started commit (the write path commits a turn later). */
  const advance = async (ms: number): Promise<void> => {
    vi.advanceTimersByTime(ms);
    await new Promise((resolve) => setImmediate(resolve));
  };
  const listSecrets = async (): Promise<void> => {
    expect((await f.call("GET", "/api/secrets", { token: acme.admin.tokens.accessToken })).status).toBe(200);
  };

  beforeAll(async () => {
    f = await identityFixture();
    acme = await f.createTenant("acme");
    member = await f.createUser(acme.admin, { role: "member" }, acme.slug);
    auditor = await f.createUser(acme.admin, { role: "viewer", auditor: true }, acme.slug);
  });
  afterAll(() => f.close());
  afterEach(() => {
    vi.useRealTimers();
  });

  it("answers a sensitive read before its event is written, and writes the event within one second", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const before = readEvents().length;
    await listSecrets();
    // The response is out and the event is still only queued: the read did not wait for a write.
    expect(readEvents()).toHaveLength(before);
    await advance(999);
    expect(readEvents()).toHaveLength(before);
    await advance(1);
    const written = readEvents().slice(before);
    expect(written).toHaveLength(1);
    expect(written[0]).toMatchObject({
      event: "read.sensitive",
      payload: { operation: "listSecrets", resource: "secrets" },
    });
  });

  it("writes several reads of one second in one batch, in the order they were answered", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const before = f.services.db.auditLog.size(acme.tenantId);
    await listSecrets();
    expect((await f.call("GET", "/api/audit/checkpoints", { token: acme.admin.tokens.accessToken })).status).toBe(200);
    await listSecrets();
    expect(f.services.db.auditLog.size(acme.tenantId)).toBe(before);
    await advance(1000);
    const ops = logged({ afterSeq: before - 1 }).map((row) => row.payload.operation);
    expect(ops).toEqual(["listSecrets", "listAuditCheckpoints", "listSecrets"]);
  });

  it("records the platform root's key view in the platform tenant's log, where its other actions are", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const platform = f.services.db.tenants.platformTenant()?.id ?? "";
    const before = f.services.db.auditLog.size(platform);
    expect((await f.call("GET", "/api/keys/status", { token: f.root.tokens.accessToken })).status).toBe(200);
    await advance(1000);
    const [row] = f.services.db.auditLog.filtered(platform, { afterSeq: before - 1, limit: 10 });
    expect(row).toMatchObject({
      event: "read.sensitive",
      sensitivity: "security",
      actorType: "human",
      actorId: f.root.id,
    });
    expect(JSON.parse(row?.payload ?? "{}")).toEqual({ operation: "keyStatus", resource: "keys" });
  });

  it("lets only the tenant's admin change the setting: a member, an auditor and the platform root are refused", async () => {
    for (const caller of [member, auditor, f.root]) {
      const res = await f.call("PUT", "/api/tenant/settings", {
        token: caller.tokens.accessToken,
        body: { readAudit: "off" },
      });
      expect(res.status).toBe(403);
      expect((await f.call("GET", "/api/tenant/settings", { token: caller.tokens.accessToken })).status).toBe(403);
    }
    const res = await f.call("GET", "/api/tenant/settings", { token: acme.admin.tokens.accessToken });
    expect(await res.json()).toEqual({ readAudit: "sensitive" });
  });

  it("records the change of the setting as a security event naming the admin and the new level", async () => {
    const res = await f.call("PUT", "/api/tenant/settings", {
      token: acme.admin.tokens.accessToken,
      body: { readAudit: "all" },
    });
    expect(await res.json()).toEqual({ readAudit: "all" });
    const changes = logged({ event: "tenant.updated" });
    expect(changes.at(-1)).toMatchObject({
      sensitivity: "security",
      actorId: acme.admin.id,
      payload: { readAudit: "all" },
    });
    await f.call("PUT", "/api/tenant/settings", {
      token: acme.admin.tokens.accessToken,
      body: { readAudit: "sensitive" },
    });
  });

  it("writes the reads still queued when the services close", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const before = readEvents().length;
    await listSecrets();
    expect(readEvents()).toHaveLength(before);
    // No timer fires: closing alone writes the batch (openServices' close does this before closing the database).
    await f.services.identity.reads.close();
    expect(readEvents().slice(before)).toMatchObject([
      { event: "read.sensitive", payload: { operation: "listSecrets" } },
    ]);
  });
});
