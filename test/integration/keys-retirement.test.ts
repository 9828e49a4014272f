/**
 * Issue 13, point 1, end to end: the operator rotates the master key with the CLI, updates the
 * configuration, and retires the old key while a server still runs on the OLD configuration. Real
 * key files, the built CLI, real `vecto serve` processes. Retirement must never strand a tenant:
 * it refuses while the running server still uses the key, and while a data key (a tenant created
 * in the window) is wrapped only under it, naming the tenant; after a re-wrap it succeeds and the
 * tenant reads with the old key file destroyed. A server whose key another process retired
 * refuses new data keys; /readyz, `keys status` and `doctor` report what no available key opens.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KeyStore } from "../../src/db/keystore.js";
import { createSoftHsmToken } from "../fixtures/softhsm.js";
import type { KeyStatus } from "../../src/key-admin/status.js";
import { freePort, runCli, startServe, tempDir, waitForExit } from "../helpers.js";
import { STRONG_PASSWORD } from "../identity-fixture.js";
import { loginToken, serveClient } from "../serve-client.js";

type Serve = Awaited<ReturnType<typeof startServe>>;
interface DoctorCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}
type Env = Record<string, string>;

/** One data directory driven the operator's way: the built CLI, a `vecto serve` child, the API as the platform root. */
function appliance(cwd: string, port: number) {
  const call = serveClient(port);
  const tenants: Record<string, string> = {};
  let server: Serve | undefined;
  let root = "";
  const cli = (args: string[], env: Env) => runCli(args, { cwd, env: { ...env, VECTO_LOG_LEVEL: "silent" } });
  return {
    call,
    tenants,
    cli,
    serverPid: () => server?.child.pid,
    status: (env: Env): KeyStatus => JSON.parse(cli(["keys", "status", "--json"], env).stdout) as KeyStatus,
    doctorKeys: (env: Env): DoctorCheck | undefined =>
      (JSON.parse(cli(["doctor", "--json"], env).stdout) as { checks: DoctorCheck[] }).checks.find(
        (c) => c.name === "master keys",
      ),
    async ready(): Promise<{ status: number; body: { checks: { keys: string }; warnings: string[] } }> {
      const res = await call("GET", "/readyz");
      return { status: res.status, body: JSON.parse(res.body) as { checks: { keys: string }; warnings: string[] } };
    },
    async serve(env: Env): Promise<Serve> {
      server = await startServe(cwd, env);
      return server;
    },
    async stop(): Promise<void> {
      if (server === undefined) return;
      server.child.kill("SIGTERM");
      await waitForExit(server.child);
      server = undefined;
    },
    /** init, setup-token, serve, then the platform root set up and signed in. */
    async install(env: Env): Promise<void> {
      expect(cli(["init"], env).status).toBe(0);
      const { token } = JSON.parse(cli(["setup-token", "--json"], env).stdout) as { token: string };
      await this.serve(env);
      expect(
        (
          await call("POST", "/api/setup", {
            body: { token, email: "root@example.test", name: "Root", password: STRONG_PASSWORD },
          })
        ).status,
      ).toBe(201);
      root = await loginToken(call, undefined, "root@example.test");
    },
    async createTenant(slug: string): Promise<{ status: number; body: string }> {
      const res = await call("POST", "/api/tenants", {
        token: root,
        body: {
          slug,
          name: `Tenant ${slug}`,
          admin: { email: `admin@${slug}.test`, name: "Admin", password: STRONG_PASSWORD },
        },
      });
      if (res.status === 201) tenants[slug] = (JSON.parse(res.body) as { tenant: { id: string } }).tenant.id;
      return res;
    },
    /** The tenant (created by createTenant) signs in and reads its own sealed profile. */
    async readsAsTenant(slug: string): Promise<void> {
      const admin = await loginToken(call, slug, `admin@${slug}.test`);
      const me = await call("GET", "/api/me", { token: admin });
      expect(me.status).toBe(200);
      expect(me.body).toContain(`admin@${slug}.test`);
    },
    rootToken: () => root,
  };
}

describe("retiring a master key while a server still runs on the old configuration", () => {
  const dir = tempDir("vecto-retire-");
  const data = join(dir.path, "data");
  const keyA = join(dir.path, "master-a.key");
  const keyB = join(dir.path, "master-b.key");
  const keyC = join(dir.path, "master-c.key");
  let port: number;
  let a: ReturnType<typeof appliance>;
  let labelA: string;
  let labelB: string;

  const base = (): Env => ({ VECTO_DATA_DIR: data, VECTO_LISTEN: `127.0.0.1:${port}`, VECTO_LOG_LEVEL: "info" });
  const onlyA = () => ({ ...base(), VECTO_MASTER_KEY_FILE: keyA });
  const bWithA = () => ({ ...base(), VECTO_MASTER_KEY_FILE: keyB, VECTO_PREVIOUS_MASTER_KEYS: `file:${keyA}` });
  const onlyB = () => ({ ...base(), VECTO_MASTER_KEY_FILE: keyB });
  const onlyC = () => ({ ...base(), VECTO_MASTER_KEY_FILE: keyC });

  beforeAll(async () => {
    port = await freePort();
    a = appliance(dir.path, port);
    await a.install(onlyA());
    expect((await a.createTenant("before")).status).toBe(201);
    labelA = a.status(onlyA()).resolver.masterLabel;
  }, 60_000);
  afterAll(async () => {
    await a.stop();
    dir.cleanup();
  });

  it("rotate-master: the server still on the old key says it is superseded (readyz warning, keys status, doctor)", async () => {
    const rotated = a.cli(["keys", "rotate-master", "--new-key-file", keyB, "--json"], onlyA());
    expect(rotated.status).toBe(0);
    labelB = (JSON.parse(rotated.stdout) as { masterLabel: string }).masterLabel;

    const r = await a.ready();
    expect(r.status).toBe(200);
    expect(r.body.warnings).toEqual([
      "the current master key is superseded by a newer master key: make that one current and restart before retiring the old one",
    ]);
    const seen = a.status(bWithA());
    expect(seen.health).toEqual({ failures: [], warnings: [] });
    expect(seen.runningServer).toMatchObject({
      pid: a.serverPid(),
      currentLabel: labelA,
      health: {
        failures: [],
        warnings: [expect.stringContaining(`master key ${labelA} is superseded by ${labelB} (version 2)`)],
      },
    });
    const doctor = a.doctorKeys(bWithA());
    expect(doctor).toMatchObject({
      ok: true,
      detail: expect.stringContaining(
        `warning: running server (pid ${a.serverPid()}): master key ${labelA} is superseded`,
      ),
    });
  });

  it("a tenant created in the window is wrapped under the old key only; retire-master refuses while the server runs on that key", async () => {
    expect((await a.createTenant("window")).status).toBe(201);
    expect(
      a
        .status(bWithA())
        .tenants.find((t) => t.tenantId === a.tenants.window)
        ?.versions.map((v) => v.masterLabels),
    ).toEqual([[labelA]]);
    const r = a.cli(["keys", "retire-master", labelA], bWithA());
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(
      `vecto: master key ${labelA} is still the current key of the running server (pid ${a.serverPid()}, started ${a.status(bWithA()).runningServer?.startedAt}): make the new key current in its configuration and restart it, then retire\n`,
    );
    expect(a.status(bWithA()).masterKeys.find((m) => m.label === labelA)?.retiredAt).toBeNull();
  });

  it("with the old key left out of the configuration, retire-master refuses naming the tenant only it wraps; rewrap, then retire succeeds", async () => {
    await a.stop();
    const window = a.tenants.window ?? "";
    const refused = a.cli(["keys", "retire-master", labelA], onlyB());
    expect(refused.status).toBe(1);
    expect(refused.stderr).toBe(
      `vecto: master key ${labelA} cannot be retired: 1 data key(s) are wrapped only under it (tenant ${window} v1); load it beside the current key (VECTO_PREVIOUS_MASTER_KEYS) and run "vecto keys rewrap" (retire-master re-wraps too), then retire again\n`,
    );
    expect(a.status(onlyB()).health.failures).toEqual([
      `1 data key(s) have no wrap under an available master key: tenant ${window} v1`,
    ]);

    const rewrap = a.cli(["keys", "rewrap", "--json"], bWithA());
    expect(rewrap.status).toBe(0);
    expect(JSON.parse(rewrap.stdout)).toEqual({ wrapsAdded: 1, masterLabels: [labelB, labelA] });
    const retired = a.cli(["keys", "retire-master", labelA], bWithA());
    expect(retired.status).toBe(0);
    expect(retired.stdout).toMatch(new RegExp(`^master key ${labelA} retired: \\d+ wraps removed`));
    // Idempotent: again, nothing left to remove.
    const again = a.cli(["keys", "retire-master", labelA], onlyB());
    expect(again.status).toBe(0);
    expect(again.stdout).toBe(`master key ${labelA} was retired already: 0 leftover wraps removed\n`);
  });

  it("with the old key file destroyed, the window tenant signs in and reads; readyz and doctor are green", async () => {
    rmSync(keyA);
    await a.serve(onlyB());
    const admin = await loginToken(a.call, "window", "admin@window.test");
    const me = await a.call("GET", "/api/me", { token: admin });
    expect(me.status).toBe(200);
    expect(me.body).toContain("admin@window.test");
    expect((await a.call("POST", "/api/projects", { token: admin, body: { name: "After" } })).status).toBe(201);
    expect(await a.ready()).toMatchObject({ status: 200, body: { checks: { keys: "ok" }, warnings: [] } });
    expect(a.doctorKeys(onlyB())).toMatchObject({ ok: true });
  });

  it("a server whose master key another process retired refuses new data keys (503, the cause named) and says so", async () => {
    expect(a.cli(["keys", "rotate-master", "--new-key-file", keyC], onlyB()).status).toBe(0);
    // Retired behind the running server's back (an older CLI, or a keystore edit): the CLI's own guard is not in the way.
    const keystore = KeyStore.open(join(data, "keys.db"), { now: () => new Date().toISOString() });
    keystore.retireMaster(labelB, new Date().toISOString());
    keystore.close();

    const refused = await a.createTenant("too-late");
    expect(refused.status).toBe(503);
    expect(JSON.parse(refused.body)).toMatchObject({
      type: "urn:vecto:problem:keys-unavailable",
      detail:
        "this server's master key was retired: it cannot create a data key; restart it with the current configuration; nothing was written",
    });
    const list = JSON.parse((await a.call("GET", "/api/tenants", { token: a.rootToken() })).body) as {
      tenants: { slug: string }[];
    };
    expect(list.tenants.map((t) => t.slug).sort()).toEqual(["before", "window"]);
    const r = await a.ready();
    expect(r.status).toBe(503);
    expect(r.body.checks.keys).toMatch(
      /^the current master key was retired; restart with the current configuration; \d+ data key\(s\) have no wrap under an available master key: /,
    );
    expect(a.status(onlyC()).runningServer?.health.failures[0]).toBe(
      `master key ${labelB} was retired; restart with the current configuration`,
    );
    expect(a.doctorKeys(onlyC())).toMatchObject({
      ok: false,
      detail: expect.stringContaining(`running server (pid ${a.serverPid()}): master key ${labelB} was retired`),
    });
    await a.stop();
  });

  it("a data key no available master key opens: the server logs it at start, /readyz answers 503 naming the tenant id, doctor fails naming it", async () => {
    const before = a.tenants.before ?? "";
    // The stranded state, built directly: the tenant's only wrap is under a key this configuration does not hold.
    const raw = new BetterSqlite3(join(data, "keys.db"));
    raw.prepare("UPDATE key_wraps SET master_label = 'env:00000000000000ff' WHERE tenant_id = ?").run(before);
    raw.close();
    const started = await a.serve(onlyC());
    expect(started.stdout()).toContain(`1 data key(s) have no wrap under an available master key: tenant ${before} v1`);
    const r = await a.ready();
    expect(r.status).toBe(503);
    expect(r.body.checks.keys).toBe(`1 data key(s) have no wrap under an available master key: tenant ${before} v1`);
    expect(JSON.stringify(r.body)).not.toContain("Tenant before");
    const doctor = a.doctorKeys(onlyC());
    expect(doctor?.ok).toBe(false);
    expect(doctor?.detail).toContain(`tenant ${before} v1 (no wrap under an available master key`);
    // The other tenant is unaffected.
    const admin = await loginToken(a.call, "window", "admin@window.test");
    expect((await a.call("GET", "/api/me", { token: admin })).status).toBe(200);
  });

  it("doctor unwraps: a wrap that exists under the loaded key but does not open fails doctor, which /readyz cannot see", async () => {
    const window = a.tenants.window ?? "";
    const raw = new BetterSqlite3(join(data, "keys.db"));
    raw.prepare("UPDATE key_wraps SET wrapped = zeroblob(60) WHERE tenant_id = ?").run(window);
    raw.close();
    const doctor = a.doctorKeys(onlyC());
    expect(doctor?.ok).toBe(false);
    expect(doctor?.detail).toContain("2 data key(s) open under no available master key");
    // An actual unwrap that failed, not a missing wrap.
    const reason = doctor?.detail.split(`tenant ${window} v1 (`)[1] ?? "";
    expect(reason).toMatch(/^DEK unwrap failed|failed authentication|decryption failed/);
    expect((await a.ready()).body.checks.keys).not.toContain(window);
  });
});

describe("the same window when the new master key is in an HSM (SoftHSM2)", () => {
  const dir = tempDir("vecto-retire-hsm-");
  const token = createSoftHsmToken({ tokenLabel: "vecto-retire" });
  const keyFile = join(dir.path, "master-file.key");
  const HSM_KEY = "retire-hsm-master";
  let port: number;
  let a: ReturnType<typeof appliance>;

  const base = (): Env =>
    token.env(HSM_KEY, {
      VECTO_DATA_DIR: join(dir.path, "data"),
      VECTO_LISTEN: `127.0.0.1:${port}`,
      VECTO_LOG_LEVEL: "info",
    });
  const fileOnly = () => ({ ...base(), VECTO_KEY_RESOLVER: "env", VECTO_MASTER_KEY_FILE: keyFile });
  const hsmWithFile = () => ({ ...base(), VECTO_PREVIOUS_MASTER_KEYS: `file:${keyFile}` });
  const hsmOnly = () => base();

  beforeAll(async () => {
    port = await freePort();
    a = appliance(dir.path, port);
    await a.install(fileOnly());
  }, 60_000);
  afterAll(async () => {
    await a.stop();
    dir.cleanup();
    token.cleanup();
  });

  it("refuses while the server runs on the file key, names the window tenant, and after a re-wrap the HSM key alone reads it", async () => {
    const fileLabel = a.status(fileOnly()).resolver.masterLabel;
    expect(a.cli(["keys", "rotate-master", "--new-key-label", HSM_KEY], fileOnly()).status).toBe(0);
    expect((await a.createTenant("window")).status).toBe(201);
    expect(a.cli(["keys", "retire-master", fileLabel], hsmWithFile()).stderr).toContain(
      `is still the current key of the running server (pid ${a.serverPid()}`,
    );
    await a.stop();
    const refused = a.cli(["keys", "retire-master", fileLabel], hsmOnly());
    expect(refused.stderr).toContain(`1 data key(s) are wrapped only under it (tenant ${a.tenants.window} v1)`);
    expect(a.cli(["keys", "rewrap"], hsmWithFile()).stdout).toBe(
      `1 wraps added under pkcs11:vecto-retire/${HSM_KEY}, ${fileLabel}\n`,
    );
    expect(a.cli(["keys", "retire-master", fileLabel], hsmWithFile()).status).toBe(0);
    rmSync(keyFile);
    await a.serve(hsmOnly());
    await a.readsAsTenant("window");
    expect(await a.ready()).toMatchObject({ status: 200, body: { checks: { keys: "ok" }, warnings: [] } });
  }, 120_000);
});
