/**
 * Named actors in the audit trail (datasheet section 5: "distinguishes human vs agent, names the
 * agent"): reads show each event's actor type and name, the name is looked up from the user record
 * (never signed, never stored in the log), so erasing a person removes their name from every later
 * read while the log still verifies.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { actorNames } from "../../src/auth/actor-names.js";
import { CSV_COLUMNS, exportChunks } from "../../src/audit/export.js";
import { signatureInput } from "../../src/audit/seal.js";
import { parseJsonl, signedRowOf, type AuditLine } from "../audit-lines.js";
import { identityFixture, type Account, type Fixture, type TenantAccount } from "../identity-fixture.js";

const HUMAN_NAME = "Ada Quillfeather-7c1e";
const AGENT_NAME = "Release Bot-93fd";
const tomorrow = (): string => new Date(Date.now() + 86_400_000).toISOString();

describe("named actors in audit reads", () => {
  let f: Fixture;
  let acme: TenantAccount;
  let human: Account;
  let agentId: string;
  let agentToken: string;
  let projectId: string;

  const exportText = async (query = ""): Promise<string> => {
    const res = await f.call("GET", `/api/audit${query}`, { token: acme.admin.tokens.accessToken });
    expect(res.status, await res.clone().text()).toBe(200);
    return res.text();
  };
  const jsonl = async (query = ""): Promise<AuditLine[]> => parseJsonl(await exportText(query));
  /** CSV rows as objects; cells here hold no quotes, commas or leading formula characters except the payload, which is not read. */
  const csvByActor = async (actorId: string): Promise<Record<string, string>[]> => {
    const [header, ...rows] = (await exportText(`?format=csv&actor=${actorId}`)).split("\r\n").filter((r) => r !== "");
    expect(header).toBe(CSV_COLUMNS.join(","));
    // The payload cell is quoted JSON with commas: read the last two cells from the end.
    return rows.map((r) => {
      const cells = r.split(",");
      return { actor_type: cells[8] ?? "", actor_id: cells[9] ?? "", actor_name: cells.at(-1) ?? "" };
    });
  };
  const rename = async (userId: string, name: string): Promise<void> => {
    expect(
      (await f.call("PATCH", `/api/users/${userId}`, { token: acme.admin.tokens.accessToken, body: { name } })).status,
    ).toBe(200);
  };

  beforeAll(async () => {
    f = await identityFixture();
    acme = await f.createTenant("actors-acme");
    human = await f.createUser(acme.admin, { role: "member" }, acme.slug);
    agentId = (await f.createUser(acme.admin, { role: "member", kind: "agent" }, acme.slug)).id;
    await rename(human.id, HUMAN_NAME);
    await rename(agentId, AGENT_NAME);
    const project = await f.call("POST", "/api/projects", { token: human.tokens.accessToken, body: { name: "Named" } });
    projectId = ((await project.json()) as { project: { id: string } }).project.id;
    expect(
      (
        await f.call("PUT", `/api/projects/${projectId}/members/${agentId}`, {
          token: acme.admin.tokens.accessToken,
          body: { role: "editor" },
        })
      ).status,
    ).toBe(200);
    const issued = await f.call("POST", `/api/users/${agentId}/tokens`, {
      token: acme.admin.tokens.accessToken,
      body: { name: "ci", scopes: ["graph:read", "graph:write"], projectId, expiresAt: tomorrow() },
    });
    expect(issued.status).toBe(201);
    agentToken = ((await issued.json()) as { token: string }).token;
    await f.setAutonomy(acme.admin, projectId, [{ agentId, taskType: "node.create", level: "automate" }]);
    for (const [token, title] of [
      [agentToken, "by the agent"],
      [human.tokens.accessToken, "by the person"],
    ] as const) {
      expect(
        (await f.call("POST", `/api/projects/${projectId}/nodes`, { token, body: { type: "idea", title } })).status,
      ).toBe(201);
    }
  });
  afterAll(() => f.close());

  it("records an agent token's write as actor type agent and reads it back with the agent's name (JSON Lines and CSV)", async () => {
    const created = (await jsonl("?event=node.created")).filter((l) => l.payload.projectId === projectId);
    expect(created).toHaveLength(2);
    expect(created[0]).toMatchObject({ actor: { type: "agent", id: agentId, name: null }, actor_name: AGENT_NAME });
    expect(created[1]).toMatchObject({ actor: { type: "human", id: human.id, name: null }, actor_name: HUMAN_NAME });
    expect(await csvByActor(agentId)).toEqual([{ actor_type: "agent", actor_id: agentId, actor_name: AGENT_NAME }]);
    expect((await csvByActor(human.id)).every((r) => r.actor_type === "human" && r.actor_name === HUMAN_NAME)).toBe(
      true,
    );
  });

  it("names the platform root in a tenant's log, system actors by their id, and no one for an anonymous failed sign-in", async () => {
    expect((await f.login(acme.slug, human.email, "not-the-password")).status).toBe(401);
    const all = await jsonl();
    expect(all.find((l) => l.event === "tenant.created")).toMatchObject({
      actor: { type: "human", id: f.root.id },
      actor_name: "Root Operator",
    });
    expect(all.find((l) => l.event === "auth.login_failed")).toMatchObject({
      actor: { type: "anonymous", id: human.id },
      actor_name: null,
    });
    f.services.identity.events.emit({
      event: "auth.jwt_key_rotated",
      sensitivity: "security",
      severity: "info",
      tenantId: null,
      actor: { type: "system", id: "vecto keys rotate-jwt" },
      payload: { kid: "k-named" },
    });
    const installation = await f.call("GET", "/api/audit?log=platform", { token: f.root.tokens.accessToken });
    const last = JSON.parse((await installation.text()).trim().split("\n").at(-1) as string) as AuditLine;
    expect(last).toMatchObject({
      event: "auth.jwt_key_rotated",
      actor: { type: "system", id: "vecto keys rotate-jwt" },
      actor_name: "vecto keys rotate-jwt",
    });
  });

  it("looks each distinct actor up once per export, not once per event", async () => {
    const { db, crypto } = f.services;
    let lookups = 0;
    const tenantReads: typeof db.tenantReads = (tenantId) => {
      const reads = db.tenantReads(tenantId);
      return { ...reads, users: { ...reads.users, get: (id: string) => (lookups++, reads.users.get(id)) } };
    };
    const names = actorNames({ db: { tenants: db.tenants, tenantReads }, crypto });
    const spec = { log: acme.tenantId, filter: {}, endSeq: db.auditLog.size(acme.tenantId) };
    let text = "";
    for await (const chunk of exportChunks(db.auditLog, spec, { format: "jsonl", redactSecurity: false, names }))
      text += chunk;
    const rows = db.auditLog
      .filtered(acme.tenantId, { afterSeq: -1, limit: 10_000 })
      .filter((r) => r.seq < spec.endSeq);
    const people = new Set(
      rows.filter((r) => r.actorType === "human" || r.actorType === "agent").map((r) => r.actorId),
    );
    expect(rows.length).toBeGreaterThan(people.size * 2);
    expect(text).toContain(AGENT_NAME);
    // At most two lookups per person: the log's tenant, then the platform tenant (the root).
    expect(lookups).toBeGreaterThanOrEqual(people.size);
    expect(lookups).toBeLessThanOrEqual(people.size * 2);
  });

  it("keeps names out of the signed event and out of the stored log", async () => {
    const mac = await f.services.crypto.mac("audit-hmac").then((key) => (data: Uint8Array) => key.mac(data));
    const lines = (await jsonl()).filter((l) => l.sensitivity === "normal");
    expect(lines.some((l) => l.actor_name === AGENT_NAME)).toBe(true);
    for (const line of lines)
      expect(Buffer.from(mac(signatureInput(signedRowOf(line)))).toString("base64")).toBe(line.signature);
    const stored = f.services.db.auditLog.filtered(acme.tenantId, { afterSeq: -1, limit: 10_000 });
    expect(stored.every((row) => row.actorName === null)).toBe(true);
    expect(JSON.stringify(stored.map((row) => row.payload))).not.toMatch(/Quillfeather|Release Bot/);
  });

  it("after a person is erased, reads show the erasure's pseudonym instead of their name, and the log still verifies", async () => {
    expect(
      (await f.call("POST", `/api/users/${human.id}/erase`, { token: acme.admin.tokens.accessToken })).status,
    ).toBe(204);
    for (const format of ["jsonl", "csv"]) expect(await exportText(`?format=${format}`)).not.toContain("Quillfeather");
    const theirs = (await jsonl(`?actor=${human.id}`)).filter((l) => l.actor.type === "human");
    expect(theirs.length).toBeGreaterThan(0);
    expect(new Set(theirs.map((l) => l.actor_name))).toEqual(new Set(["Erased user"]));
    expect((await jsonl("?event=node.created")).find((l) => l.actor.id === agentId)?.actor_name).toBe(AGENT_NAME);
    const verify = await f.call("GET", "/api/audit/verify", { token: acme.admin.tokens.accessToken });
    expect(((await verify.json()) as { report: { ok: boolean } }).report.ok).toBe(true);
  });
});
