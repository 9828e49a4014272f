/** The audit trail as it is written: every change with its signed event in one transaction, append-only, fail closed. */
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { leafHashOf, signatureInput } from "../../src/audit/seal.js";
import type { AuditRow } from "../../src/db/repositories/audit-log.js";
import { identityFixture, type Fixture, type TenantAccount } from "../identity-fixture.js";

describe("audit trail", () => {
  let f: Fixture;
  let acme: TenantAccount;
  let admin: string;
  let projectId: string;
  let raw: BetterSqlite3.Database;

  const json = async <T>(res: Response): Promise<T> => (await res.json()) as T;
  const rows = (
    tenantId: string,
  ): { seq: number; event: string; sensitivity: string; actor_id: string | null; payload: string }[] =>
    raw
      .prepare("SELECT seq, event, sensitivity, actor_id, payload FROM audit_events WHERE tenant_id = ? ORDER BY seq")
      .all(tenantId) as never;

  beforeAll(async () => {
    f = await identityFixture();
    acme = await f.createTenant("audit-acme");
    admin = acme.admin.tokens.accessToken;
    projectId = (
      await json<{ project: { id: string } }>(
        await f.call("POST", "/api/projects", { token: admin, body: { name: "Audited" } }),
      )
    ).project.id;
    raw = new BetterSqlite3(join(f.dataDir, "vecto.db"));
  });
  afterAll(() => {
    raw.close();
    f.close();
  });

  it("records each action in its tenant's log, numbered without gaps, with the actor", async () => {
    const res = await f.call("POST", `/api/projects/${projectId}/nodes`, {
      token: admin,
      body: { type: "idea", title: "Audit me" },
    });
    const nodeId = (await json<{ node: { id: string } }>(res)).node.id;
    const log = rows(acme.tenantId);
    expect(log.map((r) => r.seq)).toEqual(log.map((_, i) => i));
    expect(log.map((r) => r.event)).toEqual(
      expect.arrayContaining(["tenant.created", "auth.login_succeeded", "project.created", "node.created"]),
    );
    const created = log.find((r) => r.event === "node.created");
    expect(created?.actor_id).toBe(acme.admin.id);
    expect(JSON.parse(created?.payload ?? "{}")).toMatchObject({ nodeId, projectId, type: "idea" });
    expect(created?.payload).not.toContain("Audit me"); // content stays out of the log
  });

  it("records failed sign-ins as security events", async () => {
    await f.login("audit-acme", acme.admin.email, "definitely-the-wrong-password");
    const failed = rows(acme.tenantId).filter((r) => r.event === "auth.login_failed");
    expect(failed.at(-1)?.sensitivity).toBe("security");
    expect(failed.at(-1)?.payload).not.toContain("definitely-the-wrong-password");
  });

  it("signs each event with HMAC-SHA256 over its canonical form and chains it as a Merkle leaf", async () => {
    const mac = await f.services.crypto.mac("audit-hmac").then((key) => (data: Uint8Array) => key.mac(data));
    const stored = raw
      .prepare("SELECT * FROM audit_events WHERE tenant_id = ? ORDER BY seq")
      .all(acme.tenantId) as Record<string, unknown>[];
    for (const r of stored) {
      const row: AuditRow = {
        vid: r.vid as string,
        tenantId: r.tenant_id as string,
        seq: r.seq as number,
        event: r.event as string,
        scope: r.scope as AuditRow["scope"],
        sensitivity: r.sensitivity as AuditRow["sensitivity"],
        severity: r.severity as AuditRow["severity"],
        actorType: r.actor_type as AuditRow["actorType"],
        actorId: r.actor_id as string | null,
        actorName: r.actor_name as string | null,
        scopeVid: r.scope_vid as string | null,
        timestamp: r.timestamp as string,
        payload: r.payload as string,
        signature: new Uint8Array(r.signature as Buffer),
        leafHash: new Uint8Array(r.leaf_hash as Buffer),
      };
      expect(Buffer.from(mac(signatureInput(row))).equals(Buffer.from(row.signature))).toBe(true);
      expect(Buffer.from(leafHashOf(row)).equals(Buffer.from(row.leafHash))).toBe(true);
      const tampered = { ...row, payload: row.payload.replace(/}$/, ',"x":1}') };
      expect(Buffer.from(mac(signatureInput(tampered))).equals(Buffer.from(row.signature))).toBe(false);
    }
  });

  it("refuses UPDATE and DELETE on audit rows, even through raw SQL", () => {
    expect(() =>
      raw.prepare("UPDATE audit_events SET event = 'nothing.happened' WHERE tenant_id = ?").run(acme.tenantId),
    ).toThrow("audit events are append-only");
    expect(() => raw.prepare("DELETE FROM audit_events WHERE tenant_id = ?").run(acme.tenantId)).toThrow(
      "audit events are append-only",
    );
  });

  it("fails closed: when the audit row cannot be written, the change is not written either", async () => {
    const before = (
      await json<{ nodes: unknown[] }>(await f.call("GET", `/api/projects/${projectId}/nodes`, { token: admin }))
    ).nodes.length;
    raw.exec(
      "CREATE TRIGGER forced_audit_failure BEFORE INSERT ON audit_events WHEN NEW.event = 'node.created' BEGIN SELECT RAISE(ABORT, 'forced for the test'); END;",
    );
    try {
      const res = await f.call("POST", `/api/projects/${projectId}/nodes`, {
        token: admin,
        body: { type: "idea", title: "Must not exist" },
      });
      expect(res.status).toBe(500);
      expect(await res.text()).not.toContain("forced for the test");
    } finally {
      raw.exec("DROP TRIGGER forced_audit_failure");
    }
    const after = (
      await json<{ nodes: { title: string }[] }>(
        await f.call("GET", `/api/projects/${projectId}/nodes`, { token: admin }),
      )
    ).nodes;
    expect(after.length).toBe(before);
    expect(after.map((n) => n.title)).not.toContain("Must not exist");
  });

  it("keeps events of no tenant (a tenant's erasure) in the installation's own log, and the tenant's history", async () => {
    const doomed = await f.createTenant("audit-doomed");
    const history = rows(doomed.tenantId).length;
    expect(history).toBeGreaterThan(0);
    expect(
      (
        await f.call("POST", `/api/tenants/${doomed.tenantId}/erase`, {
          token: f.root.tokens.accessToken,
          body: { confirm: "audit-doomed" },
        })
      ).status,
    ).toBe(200);
    const erased = rows("_platform").filter((r) => r.event === "tenant.erased");
    expect(JSON.parse(erased.at(-1)?.payload ?? "{}")).toMatchObject({
      erasedTenantId: doomed.tenantId,
      slug: "audit-doomed",
    });
    expect(rows(doomed.tenantId).length).toBe(history); // audit retention outlives the tenant
    const platform = f.services.db.tenants.platformTenant();
    expect(rows(platform?.id ?? "").map((r) => r.event)).toContain("auth.setup_completed");
  });
});
