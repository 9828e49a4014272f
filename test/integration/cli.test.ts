/** The `vecto` command as an operator uses it: the built bundle, run as a process, in a fresh directory. */
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { migrations } from "../../src/db/migrations/index.js";
import { createLogger } from "../../src/log.js";
import { openServices } from "../../src/services.js";
import { CLI, cleanEnv, freePort, httpsRequest, runCli, startServe, testDir, waitForExit } from "../helpers.js";

const pkg = JSON.parse(readFileSync(join(import.meta.dirname, "..", "..", "package.json"), "utf8")) as {
  version: string;
};

function mode(path: string): number {
  return statSync(path).mode & 0o777;
}

describe("vecto CLI", () => {
  it("prints its version, as text and JSON", () => {
    const cwd = testDir();
    const text = runCli(["version"], { cwd });
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`^vecto ${pkg.version.replace(/\./g, "\\.")} \\(node `));
    const json = runCli(["version", "--json"], { cwd });
    expect(JSON.parse(json.stdout)).toMatchObject({ version: pkg.version });
  });

  it("refuses to run on an unsupported Node with one line, before doing anything", () => {
    const cwd = testDir();
    // A preload that makes this Node report an old version, as Node 20.12 would.
    writeFileSync(
      join(cwd, "old-node.cjs"),
      'Object.defineProperty(process, "versions", { value: { ...process.versions, node: "20.12.2" } });',
    );
    const result = spawnSync(process.execPath, ["--require", join(cwd, "old-node.cjs"), CLI, "init"], {
      cwd,
      env: cleanEnv(),
      encoding: "utf8",
    });
    expect(result.status).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toBe("vecto: Node.js 20.12.2 is not supported; install Node.js ^20.19.0 or >=22.12.0\n");
    expect(existsSync(join(cwd, "data"))).toBe(false);
  });

  it("has --help on every command", () => {
    const cwd = testDir();
    for (const command of [[], ["serve"], ["init"], ["doctor"], ["setup-token"], ["recover-root"], ["version"]]) {
      const result = runCli([...command, "--help"], { cwd });
      expect(result.status, command.join(" ")).toBe(0);
      expect(result.stdout).toContain("Usage: vecto");
    }
    // Seven CLI starts in a row: on a loaded two-core machine each can take seconds.
  }, 120_000);

  it("fails an unknown command or option with one line and a non-zero exit", () => {
    const cwd = testDir();
    for (const args of [["frobnicate"], ["version", "--bogus"]]) {
      const result = runCli(args, { cwd });
      expect(result.status).not.toBe(0);
      expect(result.stderr.trim().split("\n")[0]).toMatch(/^error: /);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it("init creates a private data dir, a 0600 master key, a certificate and the database", () => {
    const cwd = testDir();
    const result = runCli(["init", "--json"], { cwd });
    expect(result.status, result.stderr).toBe(0);
    const data = join(cwd, "data");
    expect(mode(data)).toBe(0o700);
    expect(mode(join(data, "master.key"))).toBe(0o600);
    expect(readFileSync(join(data, "master.key"), "utf8")).toMatch(/^[A-Za-z0-9+/]{43}=\n$/);
    expect(mode(join(data, "tls", "key.pem"))).toBe(0o600);
    expect(readFileSync(join(data, "tls", "cert.pem"), "utf8")).toContain("BEGIN CERTIFICATE");
    expect(mode(join(data, "vecto.db"))).toBe(0o600);
    expect(JSON.parse(result.stdout)).toMatchObject({ dataDir: data, schemaVersion: migrations.at(-1)?.version });
    expect(result.stderr).toContain("DEV-ONLY master key"); // the generated key is flagged in the log
  });

  it("init refuses to overwrite an existing key, and leaves it untouched", () => {
    const cwd = testDir();
    expect(runCli(["init"], { cwd }).status).toBe(0);
    const key = readFileSync(join(cwd, "data", "master.key"));
    const again = runCli(["init"], { cwd });
    expect(again.status).toBe(1);
    expect(again.stderr.trim()).toBe(
      `vecto: master key ${join(cwd, "data", "master.key")} already exists; refusing to overwrite it`,
    );
    expect(readFileSync(join(cwd, "data", "master.key")).equals(key)).toBe(true);
  });

  it("doctor passes a fresh installation and fails each broken part with a non-zero exit", () => {
    const cwd = testDir();
    expect(runCli(["init"], { cwd }).status).toBe(0);
    const healthy = runCli(["doctor", "--json"], { cwd });
    expect(healthy.status, healthy.stdout + healthy.stderr).toBe(0);
    const report = JSON.parse(healthy.stdout) as { ok: boolean; checks: { name: string; ok: boolean }[] };
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => c.name)).toEqual([
      "data directory",
      "master key file",
      "key resolver",
      "tls key file",
      "tls certificate",
      "database",
      "keystore file",
      "master keys",
    ]);

    chmodSync(join(cwd, "data", "master.key"), 0o644);
    const leakyKey = runCli(["doctor"], { cwd });
    expect(leakyKey.status).toBe(1);
    expect(leakyKey.stdout).toMatch(/FAIL {2}master key file: .* has mode 0644; expected 0600/);
    expect(leakyKey.stderr.trim()).toMatch(/^vecto: \d of 8 checks failed$/);
    chmodSync(join(cwd, "data", "master.key"), 0o600);

    chmodSync(join(cwd, "data"), 0o755);
    expect(runCli(["doctor"], { cwd }).stdout).toMatch(/FAIL {2}data directory: .* has mode 0755/);
    chmodSync(join(cwd, "data"), 0o700);

    writeFileSync(join(cwd, "data", "tls", "cert.pem"), "not a certificate");
    expect(runCli(["doctor"], { cwd }).stdout).toContain("FAIL  tls certificate:");
  });

  it("doctor finds a corrupted database", () => {
    const cwd = testDir();
    expect(runCli(["init"], { cwd }).status).toBe(0);
    const file = join(cwd, "data", "vecto.db");
    const raw = new BetterSqlite3(file);
    raw.exec("CREATE TABLE filler (id INTEGER PRIMARY KEY, v TEXT); CREATE INDEX filler_v ON filler(v);");
    const insert = raw.prepare("INSERT INTO filler (v) VALUES (?)");
    for (let i = 0; i < 2000; i++) insert.run(`value-${i}`);
    const root = (
      raw.prepare("SELECT rootpage FROM sqlite_master WHERE name = 'filler_v'").get() as { rootpage: number }
    ).rootpage;
    const pageSize = raw.pragma("page_size", { simple: true }) as number;
    raw.pragma("wal_checkpoint(TRUNCATE)");
    raw.close();
    // Overwrite the middle of the index's root page with garbage.
    const bytes = readFileSync(file);
    bytes.fill(0x5a, (root - 1) * pageSize + 12, root * pageSize);
    writeFileSync(file, bytes);
    const result = runCli(["doctor"], { cwd });
    expect(result.status).toBe(1);
    expect(result.stdout).toMatch(/FAIL {2}database: /);
  });

  it("setup-token issues a single new token and refuses to run without a database", () => {
    const cwd = testDir();
    const none = runCli(["setup-token"], { cwd });
    expect(none.status).toBe(1);
    expect(none.stderr.trim()).toBe(`vecto: no database at ${join(cwd, "data", "vecto.db")}; run "vecto init" first`);
    expect(runCli(["init"], { cwd }).status).toBe(0);
    const issued = JSON.parse(runCli(["setup-token", "--json"], { cwd }).stdout) as {
      token: string;
      expiresAt: string;
    };
    expect(issued.token).toMatch(/^vst_[A-Za-z0-9_-]{43}$/);
    const raw = new BetterSqlite3(join(cwd, "data", "vecto.db"), { readonly: true });
    const rows = raw.prepare("SELECT hex(token_hash) AS h FROM setup_tokens").all() as { h: string }[];
    raw.close();
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(Buffer.from(issued.token).toString("hex").toUpperCase()); // stored hashed
  });

  it("keys status names the resolver and master key, never key material", () => {
    const cwd = testDir();
    expect(runCli(["init"], { cwd }).status).toBe(0);
    const result = runCli(["keys", "status", "--json"], { cwd });
    expect(result.status, result.stderr).toBe(0);
    const status = JSON.parse(result.stdout) as {
      resolver: { kind: string; masterLabel: string };
      tenants: { tenantId: string }[];
    };
    expect(status.resolver.kind).toBe("env");
    expect(status.resolver.masterLabel).toMatch(/^env:[0-9a-f]{16}$/);
    expect(status.tenants.map((t) => t.tenantId)).toContain("_platform");
    const masterKey = readFileSync(join(cwd, "data", "master.key"), "utf8").trim();
    expect(result.stdout).not.toContain(masterKey);
  });

  it("keys rotate-jwt starts a new signing key", () => {
    const cwd = testDir();
    expect(runCli(["init"], { cwd }).status).toBe(0);
    const first = JSON.parse(runCli(["keys", "rotate-jwt", "--json"], { cwd }).stdout) as { kid: string };
    const second = runCli(["keys", "rotate-jwt", "--json"], { cwd });
    expect(second.status).toBe(0);
    expect((JSON.parse(second.stdout) as { kid: string }).kid).not.toBe(first.kid);
    const raw = new BetterSqlite3(join(cwd, "data", "vecto.db"), { readonly: true });
    const ring = raw.prepare("SELECT kid, retired_at FROM jwt_keys ORDER BY created_at").all() as {
      kid: string;
      retired_at: string | null;
    }[];
    raw.close();
    expect(ring.filter((k) => k.retired_at === null).map((k) => k.kid)).toEqual([
      (JSON.parse(second.stdout) as { kid: string }).kid,
    ]);
  });

  it("setup-token refuses once the platform root exists", async () => {
    const cwd = testDir();
    expect(runCli(["init"], { cwd }).status).toBe(0);
    const { token } = JSON.parse(runCli(["setup-token", "--json"], { cwd }).stdout) as { token: string };
    const config = loadConfig({ VECTO_ENV_FILE: "/dev/null" }, cwd);
    const services = await openServices(config, createLogger("silent"));
    await services.identity.accounts.completeSetup(token, {
      email: "root@example.test",
      name: "Root",
      password: "violet-anchor-quartz-meadow-42",
    });
    services.close();
    const again = runCli(["setup-token"], { cwd });
    expect(again.status).toBe(1);
    expect(again.stderr.trim()).toBe(
      "vecto: setup is already complete; the platform root manages access from here (a forgotten root password: vecto recover-root)",
    );
  });

  it("audit checkpoint signs the logs; audit verify passes them and fails a tampered one, naming the event", async () => {
    const cwd = testDir();
    expect(runCli(["init"], { cwd }).status).toBe(0);
    const { token } = JSON.parse(runCli(["setup-token", "--json"], { cwd }).stdout) as { token: string };
    const services = await openServices(loadConfig({ VECTO_ENV_FILE: "/dev/null" }, cwd), createLogger("silent"));
    await services.identity.accounts.completeSetup(token, {
      email: "root@example.test",
      name: "Root",
      password: "violet-anchor-quartz-meadow-42",
    });
    const platformTenant = services.db.tenants.platformTenant()?.id ?? "";
    services.close();
    expect(JSON.parse(runCli(["audit", "checkpoint", "--json"], { cwd }).stdout)).toEqual({
      checkpoints: [{ log: platformTenant, size: 1, note: expect.stringMatching(/^vecto\.local\/.*\n1\n/) }],
    });
    const ok = runCli(["audit", "verify"], { cwd });
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toContain(`ok    ${platformTenant}: 1 events, 1 signed checkpoints`);
    const raw = new BetterSqlite3(join(cwd, "data", "vecto.db"));
    raw.exec(
      "DROP TRIGGER audit_events_no_update; UPDATE audit_events SET payload = '{\"forged\":true}' WHERE seq = 0;",
    );
    raw.close();
    const bad = runCli(["audit", "verify"], { cwd });
    expect(bad.status).toBe(1);
    expect(bad.stdout).toMatch(/FAIL {2}.*: event 0: its HMAC signature does not match/);
    expect(bad.stderr.trim()).toBe("vecto: 1 of 1 audit logs failed verification");
  });

  it("stops with one clear line on an invalid setting", () => {
    const cwd = testDir();
    const result = runCli(["serve"], { cwd, env: { VECTO_LISTEN: "everywhere" } });
    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toBe('vecto: VECTO_LISTEN: expected host:port (got "everywhere")');
    expect(existsSync(join(cwd, "data"))).toBe(false); // nothing half-created
  });

  it("refuses to start when a configured master key file is missing", () => {
    const cwd = testDir();
    const result = runCli(["serve"], {
      cwd,
      env: { VECTO_MASTER_KEY_FILE: join(cwd, "missing.key"), VECTO_LISTEN: "127.0.0.1:0" },
    });
    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toMatch(/^vecto: master key file .*missing\.key does not exist/);
  });

  it("serve starts on the embedded default, prints URL and setup token, and stops cleanly on SIGINT", async () => {
    const cwd = testDir();
    const port = await freePort();
    const server = await startServe(cwd, { VECTO_LISTEN: `127.0.0.1:${port}` }, ["--setup-token"]);
    expect(server.stderr()).toContain(`Vecto is running at https://127.0.0.1:${port}/`);
    expect(server.stderr()).toMatch(/One-time setup token .*\n\s+vst_[A-Za-z0-9_-]{43}\n/);
    expect(server.stdout()).not.toMatch(/vst_[A-Za-z0-9_-]{43}/); // the token is shown, never logged
    expect((await httpsRequest(port, "/readyz")).status).toBe(200);
    server.child.kill("SIGINT");
    expect(await waitForExit(server.child)).toBe(0);
    expect(server.stdout()).toContain("stopped cleanly");
    expect(existsSync(join(cwd, "data", "vecto.db-wal"))).toBe(false); // checkpointed: one consistent file
    const raw = new BetterSqlite3(join(cwd, "data", "vecto.db"), { readonly: true });
    expect(raw.pragma("integrity_check", { simple: true })).toBe("ok");
    raw.close();
  });

  it("serve keeps the setup token out of a non-terminal stderr unless asked", async () => {
    const cwd = testDir();
    const port = await freePort();
    const server = await startServe(cwd, { VECTO_LISTEN: `127.0.0.1:${port}` });
    expect(server.stderr()).not.toMatch(/vst_/);
    expect(server.stdout()).toContain("run `vecto setup-token`");
    server.child.kill("SIGTERM");
    expect(await waitForExit(server.child)).toBe(0);
  });
});
