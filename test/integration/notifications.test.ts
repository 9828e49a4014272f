/** Notifications exist only with their audit provenance, and only their owner reads them. */
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sourceFiles } from "../source-files.js";
import { identityFixture, type Account, type Fixture, type TenantAccount } from "../identity-fixture.js";

interface Notification {
  id: string;
  message: string;
  triggeredByAuditVid: string;
  readAt: string | null;
}

describe("notifications", () => {
  let f: Fixture;
  let acme: TenantAccount;
  let member: Account;
  let other: Account;
  let raw: BetterSqlite3.Database;

  const list = async (who: Account, query = ""): Promise<Notification[]> =>
    (
      (await (await f.call("GET", `/api/notifications${query}`, { token: who.tokens.accessToken })).json()) as {
        notifications: Notification[];
      }
    ).notifications;

  beforeAll(async () => {
    f = await identityFixture();
    acme = await f.createTenant("notify-acme");
    member = await f.createUser(acme.admin, { role: "member" }, "notify-acme");
    other = await f.createUser(acme.admin, { role: "member" }, "notify-acme");
    raw = new BetterSqlite3(join(f.dataDir, "vecto.db"));
  });
  afterAll(() => {
    raw.close();
    f.close();
  });

  it("tells a member they were given access, naming the audit event that did it", async () => {
    const project = (
      (await (
        await f.call("POST", "/api/projects", { token: acme.admin.tokens.accessToken, body: { name: "Notified" } })
      ).json()) as { project: { id: string } }
    ).project.id;
    await f.call("PUT", `/api/projects/${project}/members/${member.id}`, {
      token: acme.admin.tokens.accessToken,
      body: { role: "viewer" },
    });
    const [note] = await list(member);
    expect(note?.message).toBe(`You now have viewer access to project ${project}.`);
    const audit = raw
      .prepare("SELECT event, tenant_id FROM audit_events WHERE vid = ?")
      .get(note?.triggeredByAuditVid) as { event: string; tenant_id: string };
    expect(audit).toEqual({ event: "project.member_set", tenant_id: acme.tenantId });
    expect(await list(other)).toEqual([]);
  });

  it("is marked read by its owner only", async () => {
    const [note] = await list(member);
    expect(
      (await f.call("POST", `/api/notifications/${note?.id}/read`, { token: other.tokens.accessToken })).status,
    ).toBe(404);
    expect(
      (await f.call("POST", `/api/notifications/${note?.id}/read`, { token: member.tokens.accessToken })).status,
    ).toBe(204);
    expect((await list(member, "?unread=true")).map((n) => n.id)).not.toContain(note?.id);
    expect((await list(member))[0]?.readAt).not.toBeNull();
  });

  it("cannot exist without an audit row: the schema refuses one, and only the audit path inserts them", () => {
    expect(() =>
      raw
        .prepare(
          "INSERT INTO notifications (id, tenant_id, user_id, triggered_by_audit_vid, message, created_at) VALUES ('n1', ?, ?, 'no-such-audit-event', 'hi', 'now')",
        )
        .run(acme.tenantId, member.id),
    ).toThrow(/FOREIGN KEY constraint failed/);
    expect(() =>
      raw
        .prepare(
          "INSERT INTO notifications (id, tenant_id, user_id, message, created_at) VALUES ('n2', ?, ?, 'hi', 'now')",
        )
        .run(acme.tenantId, member.id),
    ).toThrow(/NOT NULL/);
    const files = sourceFiles("src");
    const inserts = files.filter((file) => /notifications\.insert\(/.test(file.text)).map((file) => file.path);
    expect(inserts).toEqual(["src/notify/notifications.ts"]);
    // src/notify makes them from the event, with the vid of the audit row just written...
    const notify = files.find((file) => file.path === "src/notify/notifications.ts")?.text ?? "";
    const fromEvent = notify.slice(
      notify.indexOf("export function notifyFromEvent("),
      notify.indexOf("\n}\n", notify.indexOf("export function notifyFromEvent(")),
    );
    expect(fromEvent).toContain("tx.notifications.insert(");
    expect(fromEvent).toContain("triggeredByAuditVid: position.vid");
    // ...which the composition root alone hands to the database...
    expect(
      files
        .filter((file) => /\bnotifyFromEvent\b/.test(file.text))
        .map((file) => file.path)
        .sort(),
    ).toEqual(["src/notify/notifications.ts", "src/services.ts"]);
    expect(files.find((file) => file.path === "src/services.ts")?.text).toMatch(
      /^\s*db\.followEvents\(notifyFromEvent\);$/m,
    );
    // ...and the database calls in the write that appends the event, right after the append, with that tenant's transaction.
    const db = files.find((file) => file.path === "src/db/db.ts")?.text ?? "";
    const auditMethod = db.slice(
      db.indexOf("  audit(event: DomainEvent): void {"),
      db.indexOf("  /** Stores a signed checkpoint"),
    );
    expect(auditMethod).toMatch(
      /this\.writes\.run\(true, \(\) => \{[\s\S]*audit\.append\([\s\S]*this\.tenantTx\(event\.tenantId, now\)[\s\S]*for \(const follow of this\.followers\) follow\(event, position, tenantTx\)/,
    );
    expect(auditMethod).not.toContain("notifications");
  });
});
