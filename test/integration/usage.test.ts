/**
 * Usage snapshots and the usage report on a real appliance (in-process app, real SQLite files,
 * the installation's real Ed25519 key, a movable clock): what a snapshot counts, the chain across
 * days with a gap, the clock running behind, the report over the API and from the built CLI, and
 * the vendor's verification of that real report, including each kind of tampering.
 */
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { usageSnapshotJob } from "../../src/jobs/jobs.js";
import {
  addDays,
  dayOf,
  GENESIS_HASH,
  verifyUsageReport,
  type SignedSnapshot,
  type UsageReport,
} from "../../src/usage/report-format.js";
import { runCli, tempDir } from "../helpers.js";
import {
  identityFixture,
  STRONG_PASSWORD,
  type Account,
  type Fixture,
  type TenantAccount,
} from "../identity-fixture.js";

const DAY = 86_400_000;

describe("usage snapshots and the usage report", () => {
  const start = new Date();
  let clock = start;
  const now = (): Date => clock;
  const d0 = dayOf(start);
  const scratch = tempDir("vecto-usage-");
  let f: Fixture;
  let acme: TenantAccount;
  let beta: TenantAccount;
  let member: Account;
  let agentId = "";
  let report: UsageReport;

  const json = async <T>(res: Response): Promise<T> => (await res.json()) as T;
  const at = (days: number): Date => new Date(start.getTime() + days * DAY);
  async function rootToken(): Promise<string> {
    return (await json<{ accessToken: string }>(await f.login(undefined, f.root.email, STRONG_PASSWORD))).accessToken;
  }
  function platformEvents(event: string): Record<string, unknown>[] {
    const raw = new BetterSqlite3(join(f.dataDir, "vecto.db"), { readonly: true });
    try {
      return raw
        .prepare<[string], { payload: string }>(
          "SELECT payload FROM audit_events WHERE tenant_id = '_platform' AND event = ? ORDER BY seq",
        )
        .all(event)
        .map((r) => JSON.parse(r.payload) as Record<string, unknown>);
    } finally {
      raw.close();
    }
  }

  beforeAll(async () => {
    f = await identityFixture({ now });
    acme = await f.createTenant("usage-acme");
    beta = await f.createTenant("usage-beta");
    member = await f.createUser(acme.admin, { role: "member" }, acme.slug);
    await f.createUser(acme.admin, { role: "viewer", auditor: true }, acme.slug);
    agentId = (await f.createUser(acme.admin, { role: "member", kind: "agent" }, acme.slug)).id;
    const admin = acme.admin.tokens.accessToken;
    const project = await json<{ project: { id: string } }>(
      await f.call("POST", "/api/projects", { token: admin, body: { name: "Counted" } }),
    );
    for (const title of ["one", "two", "three"])
      expect(
        (
          await f.call("POST", `/api/projects/${project.project.id}/nodes`, {
            token: admin,
            body: { type: "idea", title },
          })
        ).status,
      ).toBe(201);
    expect(
      (
        await f.call("POST", "/api/tokens", {
          token: member.tokens.accessToken,
          body: { name: "ci", scopes: ["self"], expiresAt: new Date(start.getTime() + 60 * DAY).toISOString() },
        })
      ).status,
    ).toBe(201);
  });
  afterAll(() => {
    f.close();
    scratch.cleanup();
  });

  it("records yesterday's snapshot, counts only, signed with the installation key; idempotent per day", async () => {
    const first = await f.services.usage.snapshot();
    expect(first).toMatchObject({ status: "recorded", day: addDays(d0, -1), seq: 1 });
    if (first.status !== "recorded") return;
    expect(first.snapshot.prevHash).toBe(GENESIS_HASH);
    expect(first.snapshot.counts).toEqual({
      tenants: 2,
      users: { active: 4, disabled: 0, byRole: { tenant_admin: 2, member: 1, viewer: 1 }, auditors: 1 },
      activeUsers30d: 0, // nobody had signed in by the end of that day: it all happened today
      agents: 1,
      projects: 1,
      nodes: 3,
      personalAccessTokens: 1,
      peakConcurrentSessions: 0, // every session began today, after the day counted
      llmCallsByProvider: {},
    });
    expect(first.snapshot.license).toEqual({ licenseId: null, state: "unlicensed" });
    expect(await f.services.usage.snapshot()).toMatchObject({ status: "exists", day: addDays(d0, -1), seq: 1 });
    expect(platformEvents("usage.snapshot")).toEqual([
      expect.objectContaining({ day: addDays(d0, -1), seq: 1, tenants: 2, users: 4, agents: 1 }),
    ]);
  });

  it("the next day's snapshot chains to it and estimates the peak of concurrent sessions", async () => {
    // A second session of the member, and one session revoked: the peak is of sessions live at once.
    await f.login(acme.slug, member.email, STRONG_PASSWORD);
    clock = at(1);
    const job = await usageSnapshotJob(f.services).run();
    expect(job).toEqual({ day: d0, snapshot: "recorded", licenseState: "unlicensed" });
    const [prev, snap] = f.services.usage.snapshots(addDays(d0, -1), d0) as [SignedSnapshot, SignedSnapshot];
    expect(snap.seq).toBe(2);
    expect(snap.prevHash).toBe(f.services.db.licensing.snapshotForDay(prev.day)?.hash);
    // acme admin, beta admin, member (twice), viewer: five customer sessions began within seconds of each other.
    expect(snap.counts.peakConcurrentSessions).toBe(5);
    expect(snap.counts.activeUsers30d).toBe(4); // distinct people, not sessions
  });

  it("days the appliance did not record stay missing; a clock behind the chain skips the day and is reported in the next snapshot", async () => {
    clock = at(3);
    expect(await f.services.usage.snapshot()).toMatchObject({ status: "recorded", day: addDays(d0, 2), seq: 3 });
    clock = at(4);
    expect(await f.services.usage.snapshot()).toMatchObject({ status: "recorded", day: addDays(d0, 3), seq: 4 });
    clock = at(2);
    const behind = await f.services.usage.snapshot();
    expect(behind).toEqual({
      status: "skipped",
      day: addDays(d0, 1),
      reason: `the clock is behind the usage chain: its last snapshot is for ${addDays(d0, 3)}`,
    });
    expect(platformEvents("license.clock_rollback")).toHaveLength(1);
    clock = at(5);
    const next = await f.services.usage.snapshot();
    expect(next.status).toBe("recorded");
    if (next.status !== "recorded") return;
    expect(next.snapshot.clockRollbacks).toEqual([
      expect.objectContaining({ source: "usage-snapshot", behindSeconds: expect.any(Number) as number }),
    ]);
    expect(next.snapshot.clockRollbacks[0]?.behindSeconds).toBeGreaterThan(2 * 86_400 - 60);
  });

  it("GET /api/usage/report: the signed report of a period, with gaps and rollbacks, audited, that the vendor's check accepts", async () => {
    const token = await rootToken();
    const from = addDays(d0, -1);
    const to = addDays(d0, 4);
    const res = await f.call("GET", `/api/usage/report?from=${from}&to=${to}`, { token });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-disposition")).toBe(`attachment; filename="vecto-usage-${from}-${to}.json"`);
    report = await json<UsageReport>(res);
    expect(report.snapshots.map((s) => s.day)).toEqual([
      addDays(d0, -1),
      d0,
      addDays(d0, 2),
      addDays(d0, 3),
      addDays(d0, 4),
    ]);
    expect(report.missingDays).toEqual([addDays(d0, 1)]);
    expect(report.clockRollbacks).toHaveLength(1);
    expect(report.chain.anchor).toBe(GENESIS_HASH);
    expect(report.license).toBeNull();
    expect(report.summary).toContain(`missing: ${addDays(d0, 1)}`);

    const verified = verifyUsageReport(report);
    expect(verified.problems).toEqual([]);
    expect(verified).toMatchObject({
      ok: true,
      days: 5,
      missingDays: [addDays(d0, 1)],
      maxima: { tenants: 2, users: 4, agents: 1, peakConcurrentSessions: 5 },
    });
    expect(platformEvents("usage.exported").at(-1)).toMatchObject({
      from,
      to,
      days: 5,
      missingDays: 1,
      head: report.chain.head,
      out: "api",
    });

    // The installation key is the one that signs the audit checkpoints (one installation key).
    const checkpoints = await json<{ keys?: unknown; verifierKeys?: unknown }>(
      await f.call("GET", "/api/audit/checkpoints", { token }),
    );
    const verifier = /\+[0-9a-f]{8}\+([A-Za-z0-9+/=]+)/.exec(JSON.stringify(checkpoints))?.[1];
    expect(
      Buffer.from(verifier ?? "", "base64")
        .subarray(1)
        .toString("base64"),
    ).toBe(report.installationPublicKey);

    // A later report continues the chain of this one.
    const later = await json<UsageReport>(
      await f.call("GET", `/api/usage/report?from=${addDays(d0, 5)}&to=${addDays(d0, 6)}`, { token }),
    );
    expect(later.snapshots).toEqual([]);
    expect(verifyUsageReport(later, { previousHead: report.chain.head ?? "" }).ok).toBe(true);
  });

  it("holds counts only: no tenant, person or token ids, no names or e-mail addresses", () => {
    const text = JSON.stringify(report);
    for (const secret of [
      acme.tenantId,
      beta.tenantId,
      acme.slug,
      beta.slug,
      acme.admin.email,
      acme.admin.id,
      member.id,
      member.email,
      agentId,
      "Counted",
      "Tenant usage-acme",
    ])
      expect(text.includes(secret), secret).toBe(false);
  });

  it("refuses a bad period", async () => {
    const token = await rootToken();
    expect((await f.call("GET", `/api/usage/report?from=${d0}&to=${addDays(d0, -1)}`, { token })).status).toBe(422);
    expect((await f.call("GET", `/api/usage/report?from=2020-01-01&to=2022-01-01`, { token })).status).toBe(422);
    expect((await f.call("GET", "/api/usage/report?from=2026-02-30&to=2026-03-01", { token })).status).toBe(400);
    expect((await f.call("GET", "/api/usage/report", { token })).status).toBe(400);
  });

  it("the vendor's check detects each kind of tampering with the real report", () => {
    const clone = (): UsageReport => structuredClone(report);
    const edited = clone();
    (edited.snapshots[1] as SignedSnapshot).counts.users.active = 2;
    expect(verifyUsageReport(edited).problems).toContain(
      `day ${d0} (snapshot 2): the snapshot signature does not verify: its content was altered, or it was signed by another key`,
    );

    const dropped = clone();
    dropped.snapshots.splice(2, 1);
    dropped.chain.hashes.splice(2, 1);
    expect(verifyUsageReport(dropped).problems).toContain(
      `day ${addDays(d0, 3)} (snapshot 4): the chain skips from snapshot 2 to 4: 1 snapshot(s) were removed`,
    );
    expect(verifyUsageReport(dropped).missingDays).toEqual([addDays(d0, 1), addDays(d0, 2)]);

    const reordered = clone();
    reordered.snapshots.reverse();
    reordered.chain.hashes.reverse();
    expect(verifyUsageReport(reordered).problems).toContain(
      `days out of order: day ${d0} (snapshot 2) comes after day ${addDays(d0, 2)}`,
    );

    const swapped = clone();
    swapped.installationPublicKey = Buffer.alloc(32, 7).toString("base64");
    expect(verifyUsageReport(swapped).problems[0]).toMatch(/^the report signature does not verify/);
    const pinned = verifyUsageReport(report, { pinnedKey: new Uint8Array(Buffer.alloc(32, 7)) });
    expect(pinned.problems[0]).toMatch(/not the pinned key .*: the signing key was swapped$/);
  });

  it("vecto usage export (the built CLI) writes the same chain to a 0600 file, with the Markdown summary", () => {
    const out = join(scratch.path, "usage.json");
    const md = join(scratch.path, "usage.md");
    const result = runCli(
      ["usage", "export", "--from", addDays(d0, -1), "--to", addDays(d0, 4), "--out", out, "--summary", md],
      { cwd: scratch.path, env: { VECTO_DATA_DIR: f.dataDir, VECTO_LOG_LEVEL: "warn" } },
    );
    expect(result.status, result.stderr).toBe(0);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const fromCli = JSON.parse(readFileSync(out, "utf8")) as UsageReport;
    expect(fromCli.snapshots).toEqual(report.snapshots);
    expect(fromCli.chain).toEqual(report.chain);
    expect(
      verifyUsageReport(fromCli, { pinnedKey: new Uint8Array(Buffer.from(report.installationPublicKey, "base64")) }).ok,
    ).toBe(true);
    expect(readFileSync(md, "utf8")).toBe(fromCli.summary);
    const bad = runCli(["usage", "export", "--from", "2026-05-02", "--to", "2026-05-01"], {
      cwd: scratch.path,
      env: { VECTO_DATA_DIR: f.dataDir, VECTO_LOG_LEVEL: "warn" },
    });
    expect(bad.status).toBe(1);
    expect(bad.stderr.trim()).toBe("vecto: the period is reversed: from 2026-05-02 is after to 2026-05-01");
  });

  it("snapshots, installed licenses and rollback records are append-only in the database", () => {
    const raw = new BetterSqlite3(join(f.dataDir, "vecto.db"));
    try {
      expect(() => raw.exec("UPDATE usage_snapshots SET body = '{}' WHERE seq = 1")).toThrow(
        /usage snapshots are append-only/,
      );
      expect(() => raw.exec("DELETE FROM usage_snapshots WHERE seq = 1")).toThrow(/usage snapshots are append-only/);
      expect(() => raw.exec("DELETE FROM clock_rollbacks")).toThrow(/clock rollback records are append-only/);
      expect(() =>
        raw.exec("INSERT INTO licenses VALUES (1, 'x', 'k', 't', 'now', 'me'); DELETE FROM licenses"),
      ).toThrow(/installed licenses are append-only/);
    } finally {
      raw.close();
    }
  });
});
