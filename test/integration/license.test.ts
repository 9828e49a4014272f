/**
 * The license on a real appliance (in-process app, real SQLite files, real Ed25519 keys, a movable
 * clock given through openServices like any other option). The appliance is built with a test
 * vendor key through the product's own wiring; the built CLI bundle, which has only the compiled
 * vendor keys, refuses a license signed with that test key.
 */
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DomainError } from "../../src/errors.js";
import { EVALUATION_LIMITS } from "../../src/license/state.js";
import { ALWAYS_ALLOWED_CHANGES } from "../../src/server/middleware/license-guard.js";
import type { OpenApiDocument } from "../../src/server/openapi.js";
import { runCli, tempDir } from "../helpers.js";
import { identityFixture, STRONG_PASSWORD, type Fixture, type TenantAccount } from "../identity-fixture.js";
import { envelopeOf, isoSeconds, testVendor } from "../license-helpers.js";
import { armorLicense } from "../../src/license/format.js";

const DAY = 86_400_000;

interface Problem {
  type: string;
  status: number;
  detail: string;
  limit?: string;
  used?: number;
  allowed?: number;
  reason?: string;
}

describe("license on the appliance", () => {
  let clock = new Date();
  const now = (): Date => clock;
  const vendor = testVendor(now);
  const foreign = testVendor(now);
  let f: Fixture;
  let root = "";
  let acme: TenantAccount;
  let admin = "";
  let expiresAt = 0;

  const json = async <T>(res: Response): Promise<T> => (await res.json()) as T;
  const install = (license: string, token = root): Promise<Response> =>
    f.call("PUT", "/api/license", { token, body: { license } });
  const status = async (): Promise<{
    state: string;
    evaluation: boolean;
    readOnly: boolean;
    limits: Record<string, number>;
    usage: Record<string, number>;
    warnings: string[];
    daysLeft: number | null;
    clockRollback: boolean;
    license: { licenseId: string; sequence: number } | null;
  }> => json(await f.call("GET", "/api/license", { token: root }));

  /** Tokens expire when the clock moves: sign in again as root and as acme's admin. */
  async function relogin(): Promise<void> {
    const r = await f.login(undefined, f.root.email, STRONG_PASSWORD);
    expect(r.status).toBe(200);
    root = (await json<{ accessToken: string }>(r)).accessToken;
    const a = await f.login(acme.slug, acme.admin.email, STRONG_PASSWORD);
    expect(a.status).toBe(200);
    admin = (await json<{ accessToken: string }>(a)).accessToken;
  }

  function audit(event: string): Record<string, unknown>[] {
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

  /** Every row of every table of both files, and the keystore: what "nothing was written" is checked against. */
  function everything(): string {
    const dump = (file: string): string => {
      const raw = new BetterSqlite3(file, { readonly: true });
      try {
        const tables = raw
          .prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
          .all();
        return JSON.stringify(tables.map(({ name }) => [name, raw.prepare(`SELECT * FROM "${name}"`).all()]));
      } finally {
        raw.close();
      }
    };
    return dump(join(f.dataDir, "vecto.db")) + dump(join(f.dataDir, "keys.db"));
  }

  async function expectProblem(res: Response, status: number, type: string): Promise<Problem> {
    expect(res.status, await res.clone().text()).toBe(status);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    const body = await json<Problem>(res);
    expect(body.type).toBe(`urn:vecto:problem:${type}`);
    return body;
  }

  beforeAll(async () => {
    f = await identityFixture({ vendorKeys: [vendor.key], now });
    root = f.root.tokens.accessToken;
    acme = await f.createTenant("lic-acme");
    admin = acme.admin.tokens.accessToken;
  });
  afterAll(() => f.close());

  it("unlicensed: evaluation limits, a warning, readyz names the state; only license:manage reaches the license", async () => {
    const s = await status();
    expect(s).toMatchObject({
      state: "unlicensed",
      evaluation: true,
      readOnly: false,
      license: null,
      limits: { ...EVALUATION_LIMITS },
      usage: { tenants: 1, users: 1, agents: 0 },
      daysLeft: null,
    });
    expect(s.warnings[0]).toMatch(/^no license is installed: evaluation limits apply/);
    expect(await json(await f.call("GET", "/readyz"))).toEqual({
      status: "ready",
      checks: { database: "ok", storage: "ok", keys: "ok" },
      license: "unlicensed",
      warnings: [],
    });
    await expectProblem(await f.call("GET", "/api/license", { token: admin }), 403, "forbidden");
    await expectProblem(await install(vendor.sign(), admin), 403, "forbidden");
    await expectProblem(
      await f.call("GET", "/api/usage/report?from=2026-01-01&to=2026-01-02", { token: admin }),
      403,
      "forbidden",
    );
    await expectProblem(await f.call("GET", "/api/license"), 401, "unauthorized");
  });

  it("refuses bad licenses at upload with the reason (422), audits each refusal, installs nothing", async () => {
    const t = clock.getTime();
    const cases: [string, string, RegExp][] = [
      [
        foreign.sign(),
        "unknown-key",
        new RegExp(
          `^license refused: the license is signed with key ${foreign.key.kid}, which this build does not trust`,
        ),
      ],
      [
        armorLicense({
          ...envelopeOf(vendor.sign()),
          kid: vendor.key.kid,
          payload: { ...envelopeOf(vendor.sign()).payload, limits: { tenants: 999, users: 999, agents: 999 } },
        }),
        "bad-signature",
        /^license refused: the license signature does not verify/,
      ],
      [
        vendor.sign().replace("-----END VECTO LICENSE-----", ""),
        "armor",
        /^license refused: the license is damaged: it does not end with/,
      ],
      [
        vendor.sign({
          issuedAt: isoSeconds(t - 400 * DAY),
          notBefore: isoSeconds(t - 400 * DAY),
          expiresAt: isoSeconds(t - 40 * DAY),
          graceDays: 30,
        }),
        "expired",
        /^license refused: the license expired on .* and its 30-day grace period has ended/,
      ],
      [
        vendor.sign({ notBefore: isoSeconds(t + DAY) }),
        "not-yet-valid",
        /^license refused: the license is not valid before/,
      ],
    ];
    for (const [text, reason, detail] of cases) {
      const problem = await expectProblem(await install(text), 422, "rejected");
      expect(problem.reason, reason).toBe(reason);
      expect(problem.detail).toMatch(detail);
    }
    expect(audit("license.refused").map((p) => p.reason)).toEqual(cases.map(([, reason]) => reason));
    expect(f.services.db.licensing.licenseHistory()).toEqual([]);
    expect((await status()).state).toBe("unlicensed");
  });

  it("installs a license: valid, with its limits and the usage against them; audited; only a higher sequence replaces it", async () => {
    const first = await install(vendor.sign({ licenseId: "LIC-1", sequence: 1 }));
    expect(first.status, await first.clone().text()).toBe(200);
    const second = vendor.sign({ licenseId: "LIC-2", sequence: 2, limits: { tenants: 2, users: 4, agents: 1 } });
    const res = await install(second);
    expect(res.status).toBe(200);
    const s = await json<Awaited<ReturnType<typeof status>>>(res);
    expect(s).toMatchObject({
      state: "valid",
      evaluation: false,
      readOnly: false,
      license: { licenseId: "LIC-2", sequence: 2 },
      limits: { tenants: 2, users: 4, agents: 1 },
      usage: { tenants: 1, users: 1, agents: 0 },
      warnings: [],
    });
    expiresAt = Date.parse((s as unknown as { expiresAt: string }).expiresAt);
    expect(audit("license.installed").map((p) => [p.licenseId, p.sequence, p.kid])).toEqual([
      ["LIC-1", 1, vendor.key.kid],
      ["LIC-2", 2, vendor.key.kid],
    ]);
    expect(await json(await f.call("GET", "/readyz"))).toMatchObject({ license: "valid" });

    const older = await expectProblem(await install(vendor.sign({ licenseId: "LIC-1", sequence: 1 })), 422, "rejected");
    expect(older).toMatchObject({
      reason: "sequence",
      detail:
        "license refused: the license has sequence 1, the installed license (LIC-2) has 2: it is older than the installed license; a replacement must have a higher sequence",
    });
    const replay = await expectProblem(await install(second), 422, "rejected");
    expect(replay.detail).toMatch(/it is already installed/);
    expect(f.services.db.licensing.licenseHistory().map((l) => l.sequence)).toEqual([1, 2]);
  });

  it("enforces the limits where tenants, people and agents are created: 402 naming the limit, nothing written", async () => {
    const body = (slug: string): unknown => ({
      slug,
      name: slug,
      admin: { email: `admin@${slug}.test`, name: "Admin", password: STRONG_PASSWORD },
    });
    expect((await f.call("POST", "/api/tenants", { token: root, body: body("lic-beta") })).status).toBe(201);

    let before = everything();
    const tenantLimit = await expectProblem(
      await f.call("POST", "/api/tenants", { token: root, body: body("lic-gamma") }),
      402,
      "license-limit",
    );
    expect(tenantLimit).toMatchObject({
      status: 402,
      detail: "license limit reached: tenants 2 of 2 (license LIC-2); nothing was created",
      limit: "tenants",
      used: 2,
      allowed: 2,
    });
    expect(everything()).toBe(before);

    const user = (role: string, kind = "human"): unknown => ({
      email: `${role}-${Math.random().toString(36).slice(2)}@acme.test`,
      name: "Someone",
      role,
      kind,
      auditor: false,
      ...(kind === "human" ? { password: STRONG_PASSWORD } : {}),
    });
    const member = await json<{ user: { id: string } }>(
      await f.call("POST", "/api/users", { token: admin, body: user("member") }),
    );
    expect((await f.call("POST", "/api/users", { token: admin, body: user("viewer") })).status).toBe(201);
    before = everything();
    const userLimit = await expectProblem(
      await f.call("POST", "/api/users", { token: admin, body: user("member") }),
      402,
      "license-limit",
    );
    expect(userLimit).toMatchObject({
      detail: "license limit reached: users 4 of 4 (license LIC-2); nothing was created",
      limit: "users",
      used: 4,
      allowed: 4,
    });
    expect(everything()).toBe(before);

    expect((await f.call("POST", "/api/users", { token: admin, body: user("member", "agent") })).status).toBe(201);
    before = everything();
    const agentLimit = await expectProblem(
      await f.call("POST", "/api/users", { token: admin, body: user("member", "agent") }),
      402,
      "license-limit",
    );
    expect(agentLimit).toMatchObject({
      detail: "license limit reached: agents 1 of 1 (license LIC-2); nothing was created",
      limit: "agents",
    });
    expect(everything()).toBe(before);

    // A disabled account frees its seat; enabling it again needs one.
    expect(
      (await f.call("PATCH", `/api/users/${member.user.id}`, { token: admin, body: { status: "disabled" } })).status,
    ).toBe(200);
    expect((await f.call("POST", "/api/users", { token: admin, body: user("viewer") })).status).toBe(201);
    const enable = await expectProblem(
      await f.call("PATCH", `/api/users/${member.user.id}`, { token: admin, body: { status: "active" } }),
      402,
      "license-limit",
    );
    expect(enable.detail).toMatch(/^license limit reached: users 4 of 4/);
    expect((await status()).usage).toEqual({ tenants: 2, users: 4, agents: 1 });
  });

  it("expiring and grace warn, and restrict nothing", async () => {
    expect(await f.services.license.recordStateChange()).toBe("valid"); // installing recorded "valid": no event
    clock = new Date(expiresAt - 10 * DAY);
    expect(await f.services.license.recordStateChange()).toBe("expiring");
    await relogin();
    let s = await status();
    expect(s).toMatchObject({ state: "expiring", daysLeft: 10, readOnly: false });
    expect(s.warnings).toEqual([
      expect.stringMatching(/^the license expires on .* \(in 10 days\); install a renewed license$/),
    ]);
    expect((await f.call("POST", "/api/projects", { token: admin, body: { name: "Expiring" } })).status).toBe(201);

    clock = new Date(expiresAt + DAY);
    expect(await f.services.license.recordStateChange()).toBe("grace");
    await relogin();
    s = await status();
    expect(s).toMatchObject({ state: "grace", daysLeft: 29, readOnly: false });
    expect(s.warnings[0]).toMatch(/grace period ends on/);
    expect(await json(await f.call("GET", "/readyz"))).toMatchObject({ status: "ready", license: "grace" });
    expect((await f.call("POST", "/api/projects", { token: admin, body: { name: "In grace" } })).status).toBe(201);
  });

  it("after grace: read-only for changes (402); reading, exports, audit export, sign-in and license install work; nothing is deleted", async () => {
    clock = new Date(expiresAt + 31 * DAY);
    expect(await f.services.license.recordStateChange()).toBe("expired");
    expect(audit("license.state_changed").map((p) => `${String(p.from)}>${String(p.to)}`)).toEqual([
      "valid>expiring",
      "expiring>grace",
      "grace>expired",
    ]);
    await relogin(); // signing in works
    expect(await json(await f.call("GET", "/readyz"))).toEqual({
      status: "ready",
      checks: { database: "ok", storage: "ok", keys: "ok" },
      license: "expired",
      warnings: [],
    });
    const s = await status();
    expect(s).toMatchObject({ state: "expired", readOnly: true });

    const before = everything();
    const refused = await expectProblem(
      await f.call("POST", "/api/projects", { token: admin, body: { name: "After expiry" } }),
      402,
      "license-read-only",
    );
    expect(refused.detail).toMatch(
      /^the license expired and its grace period ended on .*: the appliance is read-only for changes until a renewed license is installed/,
    );
    await expectProblem(
      await f.call("POST", "/api/users", {
        token: admin,
        body: {
          email: "late@acme.test",
          name: "Late",
          role: "member",
          kind: "human",
          auditor: false,
          password: STRONG_PASSWORD,
        },
      }),
      402,
      "license-read-only",
    );
    await expectProblem(
      await f.call("POST", "/api/tokens", {
        token: admin,
        body: { name: "late", scopes: ["self"], expiresAt: new Date(clock.getTime() + DAY).toISOString() },
      }),
      402,
      "license-read-only",
    );
    await expectProblem(
      await f.call("POST", "/api/tenants", {
        token: root,
        body: { slug: "late", name: "Late", admin: { email: "a@late.test", name: "A", password: STRONG_PASSWORD } },
      }),
      402,
      "license-read-only",
    );
    expect(everything()).toBe(before);
    // The domain gate says the same to any other caller.
    expect(() => f.services.license.assertCanCreate("user")).toThrow(DomainError);

    // Reading and exporting.
    const projects = await json<{ projects: { id: string; name: string }[] }>(
      await f.call("GET", "/api/projects", { token: admin }),
    );
    expect(projects.projects.map((p) => p.name).sort()).toEqual(["Expiring", "In grace"]);
    // Over MCP as well: its read tools answer, its create tools are refused with the same message.
    const projectId = projects.projects[0]?.id ?? "";
    const tool = async (name: string, args: Record<string, unknown>): Promise<{ isError?: boolean; text: string }> => {
      const res = await f.call("POST", "/mcp", {
        token: admin,
        headers: { Accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-06-18" },
        body: { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name, arguments: { projectId, ...args } } },
      });
      expect(res.status).toBe(200);
      const { result } = await json<{ result: { isError?: boolean; content: { text: string }[] } }>(res);
      return { ...(result.isError ? { isError: true } : {}), text: result.content[0]?.text ?? "" };
    };
    const beforeMcp = everything();
    expect(await tool("list_nodes", {})).toEqual({ text: JSON.stringify({ nodes: [], nextCursor: null }) });
    const mcpRefused = await tool("create_node", { type: "idea", title: "After expiry" });
    expect(mcpRefused.isError).toBe(true);
    expect(mcpRefused.text).toBe(refused.detail);
    expect(everything()).toBe(beforeMcp);
    expect((await f.call("GET", `/api/tenants/${acme.tenantId}/export`, { token: admin })).status).toBe(200);
    expect((await f.call("GET", "/api/audit", { token: admin })).status).toBe(200);
    expect((await f.call("GET", "/api/audit/verify", { token: admin })).status).toBe(200);
    // Securing access still works: ending a session.
    const extra = await json<{ sessionId: string; accessToken: string }>(
      await f.login(acme.slug, acme.admin.email, STRONG_PASSWORD),
    );
    expect((await f.call("DELETE", `/api/sessions/${extra.sessionId}`, { token: admin })).status).toBe(204);

    // The way out: a renewed license, installed while read-only.
    const renewed = await install(
      vendor.sign({ licenseId: "LIC-3", sequence: 3, limits: { tenants: 5, users: 10, agents: 2 } }),
    );
    expect(renewed.status, await renewed.clone().text()).toBe(200);
    expect((await json<{ state: string }>(renewed)).state).toBe("valid");
    expect((await f.call("POST", "/api/projects", { token: admin, body: { name: "Renewed" } })).status).toBe(201);
  });

  it("the always-allowed list names real routes only, and the OpenAPI document shows 402 exactly where it applies", async () => {
    const routes = new Set(f.app.routes.filter((r) => r.method !== "ALL").map((r) => `${r.method} ${r.path}`));
    for (const entry of ALWAYS_ALLOWED_CHANGES) expect(routes.has(entry), entry).toBe(true);
    const doc = await json<OpenApiDocument>(await f.call("GET", "/api/openapi.json"));
    const responses = (path: string, method: string): Record<string, unknown> =>
      (doc.paths[path] as unknown as Record<string, { responses: Record<string, unknown> }>)[method]?.responses ?? {};
    expect(responses("/api/projects", "post")["402"]).toBeDefined();
    expect(responses("/api/tenants", "post")["402"]).toBeDefined();
    expect(responses("/api/license", "put")["402"]).toBeUndefined();
    expect(responses("/api/sessions/{sessionId}", "delete")["402"]).toBeUndefined();
    expect(responses("/api/projects", "get")["402"]).toBeUndefined();
  });

  it("a clock rollback is recorded once per incident, flagged in the next usage snapshot, and never blocks", async () => {
    const t = clock.getTime();
    expect(await f.services.license.observeClock("test")).toBeUndefined();
    // Within the tolerance (NTP steps): nothing.
    clock = new Date(t - 2 * 60_000);
    expect(await f.services.license.observeClock("test")).toBeUndefined();

    clock = new Date(t - 2 * 3_600_000);
    const rollback = await f.services.license.observeClock("test");
    expect(rollback).toMatchObject({ source: "test", detectedAt: clock.toISOString() });
    expect(rollback?.behindSeconds).toBeGreaterThanOrEqual(7200);
    clock = new Date(t - 2 * 3_600_000 + 60_000);
    expect(await f.services.license.observeClock("test")).toBeUndefined(); // the same incident
    expect(audit("license.clock_rollback")).toHaveLength(1);
    await relogin();
    expect(await status()).toMatchObject({ clockRollback: true, state: "valid" });
    expect((await f.call("POST", "/api/projects", { token: admin, body: { name: "While behind" } })).status).toBe(201); // not punished

    const snapshot = await f.services.usage.snapshot();
    expect(snapshot.status).toBe("recorded");
    if (snapshot.status !== "recorded") return;
    expect(snapshot.snapshot.clockRollbacks).toEqual([
      {
        detectedAt: rollback?.detectedAt,
        highWater: rollback?.highWater,
        behindSeconds: rollback?.behindSeconds,
        source: "test",
      },
    ]);
    expect(audit("license.clock_rollback")).toHaveLength(1);

    // Caught up: the incident closes. A later rollback is a new incident.
    clock = new Date(t + 60_000);
    expect(await f.services.license.observeClock("test")).toBeUndefined();
    expect((await f.services.license.status()).clockRollback).toBe(false);
    clock = new Date(t - 3 * 3_600_000);
    expect(await f.services.license.observeClock("test")).toBeDefined();
    expect(audit("license.clock_rollback")).toHaveLength(2);
    clock = new Date(t + 120_000);
    await f.services.license.observeClock("test");
  });
});

/** The one line a failed command ends with (the audit log lines of the refusal come before it). */
const lastLine = (text: string): string => text.trim().split("\n").at(-1) ?? "";

describe("the built CLI", () => {
  const dir = tempDir("vecto-license-cli-");
  const cwd = dir.path;
  const vendor = testVendor();
  afterAll(() => dir.cleanup());

  beforeAll(() => {
    const init = runCli(["init"], { cwd });
    expect(init.status, init.stderr).toBe(0);
  });

  it("refuses a license signed by a key that is not a vendor key compiled into it, and stays unlicensed", () => {
    const file = join(cwd, "test-vendor.lic");
    writeFileSync(file, vendor.sign());
    const result = runCli(["license", "install", file], { cwd });
    expect(result.status).toBe(1);
    expect(lastLine(result.stderr)).toBe(
      `vecto: license refused: the license is signed with key ${vendor.key.kid}, which this build does not trust (a license from another vendor key, or a build that predates the key)`,
    );
    const show = runCli(["license", "show", "--json"], { cwd });
    expect(show.status, show.stderr).toBe(0);
    expect(JSON.parse(show.stdout)).toMatchObject({
      state: "unlicensed",
      evaluation: true,
      license: null,
      limits: { ...EVALUATION_LIMITS },
    });
    expect(runCli(["license", "show"], { cwd }).stdout).toMatch(/^state: {5}unlicensed\n/);
  });

  it("names the reason for a damaged file and a missing one", () => {
    const file = join(cwd, "damaged.lic");
    writeFileSync(file, "-----BEGIN VECTO LICENSE-----\nAAAA\n");
    expect(lastLine(runCli(["license", "install", file], { cwd }).stderr)).toBe(
      "vecto: license refused: the license is damaged: it does not end with -----END VECTO LICENSE-----",
    );
    expect(lastLine(runCli(["license", "install", join(cwd, "nope.lic")], { cwd }).stderr)).toMatch(
      /^vecto: no such file: /,
    );
    expect(readdirSync(cwd)).toContain("data");
  });
});
