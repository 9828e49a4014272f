/**
 * Break-glass recovery of the platform root (docs/operator-guide.md, "Recover the platform root"):
 * the real `vecto recover-root` (runCli) against the data directory of a real HTTPS server, with
 * real argon2. Each claim is tried as an attack too: the old password, a replayed, expired or
 * superseded token, a token when recovery is disabled (issued before, or asked for after), no
 * root yet, a wrong --email; and the token is looked for where it must never be.
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import BetterSqlite3 from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sealProfile } from "../../../src/auth/profiles.js";
import { loadConfig } from "../../../src/config.js";
import { createLogger } from "../../../src/log.js";
import { buildApp } from "../../../src/server/app.js";
import { servedParts } from "../../../src/server/deps.js";
import { startServer, type RunningServer } from "../../../src/server/listen.js";
import { readTlsFiles } from "../../../src/tls/tls-files.js";
import { openServices } from "../../../src/services.js";
import { httpsRequest, runCli, tempDir, type CliResult } from "../../helpers.js";
import { behindTheApi, identityFixture, STRONG_PASSWORD, type Fixture } from "../../identity-fixture.js";

const NEW_PASSWORD = "saffron-glacier-tundra-lyric-58";
const OTHER_PASSWORD = "cobalt-meadow-harvest-violin-73";
const MINUTE = 60_000;

interface Issued {
  readonly userId: string;
  readonly email: string;
  readonly token: string;
  readonly expiresAt: string;
}

let serverLog = "";
const logStream = new Writable({
  write(chunk: Buffer, _encoding, done) {
    serverLog += chunk.toString();
    done();
  },
});

/**
 * Every file under a directory with its SHA-256: what "nothing was written" is checked against.
 * Hashed by a child process: closing a descriptor of the database here would drop this process's
 * SQLite locks on it (POSIX advisory locks are per process).
 */
function snapshot(dir: string): string {
  const result = spawnSync("sh", ["-c", 'find "$1" -type f -exec sha256sum {} + | sort', "snapshot", dir], {
    encoding: "utf8",
  });
  expect(result.status, result.stderr).toBe(0);
  expect(result.stdout).toContain("vecto.db");
  return result.stdout;
}

describe("vecto recover-root", () => {
  let f: Fixture;
  let server: RunningServer;
  let t = Date.now();
  const cliOutput: string[] = [];
  const issuedTokens: string[] = [];

  beforeAll(async () => {
    f = await identityFixture({ log: createLogger("trace", logStream), now: () => new Date(t) });
    const config = loadConfig({ VECTO_ENV_FILE: "/dev/null", VECTO_DATA_DIR: f.dataDir });
    server = await startServer(f.app, {
      listen: { host: "127.0.0.1", port: 0 },
      redirectListen: null,
      tls: readTlsFiles(config.tls),
      log: createLogger("trace", logStream),
    });
  });
  afterAll(async () => {
    await server.close();
    f.close();
  });

  const cli = (args: string[], env: Record<string, string> = {}): CliResult => {
    const result = runCli(["recover-root", ...args], { cwd: f.dataDir, env: { VECTO_DATA_DIR: f.dataDir, ...env } });
    cliOutput.push(result.stderr);
    return result;
  };
  const issue = (args: string[] = []): Issued => {
    const result = cli(["--json", ...args]);
    expect(result.status, result.stderr).toBe(0);
    const issued = JSON.parse(result.stdout) as Issued;
    expect(issued.token).toMatch(/^vrt_[A-Za-z0-9_-]{43}$/);
    issuedTokens.push(issued.token);
    return issued;
  };
  const api = async (
    method: string,
    path: string,
    options: { token?: string; body?: unknown } = {},
  ): Promise<{ status: number; body: string }> => {
    const headers: Record<string, string> = {};
    if (options.token !== undefined) headers.Authorization = `Bearer ${options.token}`;
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    return httpsRequest(server.address.port, path, {
      method,
      headers,
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    });
  };
  const redeem = async (token: string, newPassword: string): Promise<number> =>
    (await api("POST", "/api/auth/password-reset", { body: { token, newPassword } })).status;
  const signIn = async (password: string, email = f.root.email): Promise<number> =>
    (await api("POST", "/api/auth/login", { body: { email, password } })).status;
  const platformId = (): string => f.services.db.tenants.platformTenant()?.id ?? "";
  /** The password the root has now, set by the test that changed it last. */
  let rootPassword = STRONG_PASSWORD;

  it("issues a 15-minute token that sets a new password once and ends every session of the root; the old password fails", async () => {
    const login = await api("POST", "/api/auth/login", { body: { email: f.root.email, password: rootPassword } });
    const session = JSON.parse(login.body) as { accessToken: string; refreshToken: string };
    const before = Date.now();
    const issued = issue();
    const after = Date.now();
    expect(issued).toMatchObject({ userId: f.root.id, email: f.root.email });
    expect(Date.parse(issued.expiresAt)).toBeGreaterThanOrEqual(before + 15 * MINUTE - 1000);
    expect(Date.parse(issued.expiresAt)).toBeLessThanOrEqual(after + 15 * MINUTE);
    // The password policy applies, and a refused password does not spend the token.
    expect(await redeem(issued.token, "password1234")).toBe(422);
    expect(await redeem(issued.token, NEW_PASSWORD)).toBe(204);
    expect((await api("GET", "/api/me", { token: session.accessToken })).status).toBe(401);
    expect((await api("POST", "/api/auth/refresh", { body: { refreshToken: session.refreshToken } })).status).toBe(401);
    expect((await api("GET", "/api/me", { token: f.root.tokens.accessToken })).status).toBe(401);
    expect(await signIn(rootPassword)).toBe(401);
    expect(await signIn(NEW_PASSWORD)).toBe(200);
    // Spent: a replay fails and changes nothing.
    expect(await redeem(issued.token, OTHER_PASSWORD)).toBe(401);
    expect(await signIn(NEW_PASSWORD)).toBe(200);
    rootPassword = NEW_PASSWORD;
  });

  it("prints the token on stdout only, with its expiry, for an operator at a terminal", () => {
    const result = cli([]);
    expect(result.status, result.stderr).toBe(0);
    const lines = result.stdout.trim().split("\n");
    expect(lines[0]).toMatch(
      new RegExp(
        `^recovery token for the platform root ${f.root.email.replace(/[.]/g, "\\.")}: vrt_[A-Za-z0-9_-]{43}$`,
      ),
    );
    expect(lines[1]).toMatch(/^valid until: \S+Z \(single use; any earlier recovery token no longer works\)$/);
    issuedTokens.push(lines[0]?.split(": ")[1] ?? "");
  });

  it("an expired token fails; one just before its expiry works", async () => {
    const first = issue();
    t = Date.parse(first.expiresAt);
    expect(await redeem(first.token, OTHER_PASSWORD)).toBe(401);
    const second = issue();
    t = Date.parse(second.expiresAt) - 1000;
    expect(await redeem(second.token, OTHER_PASSWORD)).toBe(204);
    expect(await signIn(OTHER_PASSWORD)).toBe(200);
    rootPassword = OTHER_PASSWORD;
    t = Date.now();
  });

  it("a newer token voids the earlier one", async () => {
    const first = issue();
    const second = issue();
    expect(await redeem(first.token, NEW_PASSWORD)).toBe(401);
    expect(await signIn(rootPassword)).toBe(200);
    expect(await redeem(second.token, NEW_PASSWORD)).toBe(204);
    rootPassword = NEW_PASSWORD;
  });

  it("disabled: the command refuses with one line and writes nothing", () => {
    const before = snapshot(f.dataDir);
    const result = cli(["--json"], { VECTO_ROOT_RECOVERY: "disabled" });
    expect(result.status).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toBe("vecto: root recovery is disabled (VECTO_ROOT_RECOVERY=disabled)\n");
    expect(snapshot(f.dataDir)).toEqual(before);
  });

  it("disabled: a token issued before is refused by a server configured so, and stays usable where recovery is enabled", async () => {
    const issued = issue();
    const config = loadConfig({
      VECTO_ENV_FILE: "/dev/null",
      VECTO_DATA_DIR: f.dataDir,
      VECTO_ROOT_RECOVERY: "disabled",
    });
    const log = createLogger("silent");
    const services = await openServices(config, log);
    try {
      const app = buildApp({ ...servedParts(services), log, bodyLimitBytes: config.bodyLimitBytes });
      const res = await app.request("/api/auth/password-reset", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ token: issued.token, newPassword: OTHER_PASSWORD }),
      });
      expect(res.status).toBe(401);
      // Issuing through the domain, as any other caller would, is refused as well.
      await expect(services.identity.passwordFlows.issueRootRecovery()).rejects.toThrow(
        "root recovery is disabled (VECTO_ROOT_RECOVERY=disabled)",
      );
    } finally {
      services.close();
    }
    const failed = f.services.db.auditLog
      .filtered(platformId(), { afterSeq: -1, limit: 100_000 })
      .filter((e) => e.event === "auth.password_reset_failed");
    expect(JSON.parse(failed.at(-1)?.payload ?? "{}")).toMatchObject({ reason: "root recovery disabled" });
    expect(await signIn(rootPassword)).toBe(200);
    expect(await redeem(issued.token, OTHER_PASSWORD)).toBe(204);
    rootPassword = OTHER_PASSWORD;
  });

  it("names the root by --email; an email that is no root's is refused", () => {
    expect(issue(["--email", f.root.email.toUpperCase()]).userId).toBe(f.root.id);
    const wrong = cli(["--email", "nobody@example.test"]);
    expect(wrong.status).toBe(1);
    expect(wrong.stdout).toBe("");
    expect(wrong.stderr).toBe("vecto: no platform root has the email nobody@example.test\n");
  });

  it("with several roots, asks which one; the newest token of any root voids the earlier ones", async () => {
    // No route makes a second root; the schema allows one, so the command must not guess.
    const id = "00000000-0000-4000-8000-00000000a002";
    const now = new Date().toISOString();
    const profile = await sealProfile(f.services.crypto, platformId(), id, {
      email: "second-root@example.test",
      name: "Second Root",
    });
    await behindTheApi(f.services.db, platformId(), (tx) =>
      tx.users.insert({
        id,
        kind: "human",
        ...profile,
        role: "platform_root",
        auditor: false,
        passwordHash: null,
        status: "active",
        createdAt: now,
        updatedAt: now,
      }),
    );
    const first = issue(["--email", f.root.email]);
    const ambiguous = cli([]);
    expect(ambiguous.status).toBe(1);
    expect(ambiguous.stdout).toBe("");
    expect(ambiguous.stderr).toMatch(/^vecto: there are 2 platform roots; name one with --email \(.+\)\n$/);
    for (const email of [f.root.email, "second-root@example.test"]) expect(ambiguous.stderr).toContain(email);
    const second = issue(["--email", "second-root@example.test"]);
    expect(second.userId).toBe(id);
    expect(await redeem(first.token, NEW_PASSWORD)).toBe(401);
    expect(await redeem(second.token, NEW_PASSWORD)).toBe(204);
    expect(await signIn(NEW_PASSWORD, "second-root@example.test")).toBe(200);
    expect(await signIn(rootPassword)).toBe(200);
  });

  // Last: it reads the database files in this process, which drops its SQLite locks on them.
  it("is audited as security events in the platform tenant's log, and the token is in no log line, audit row or data file", () => {
    const events = f.services.db.auditLog.filtered(platformId(), { afterSeq: -1, limit: 100_000 });
    const issuedEvents = events.filter((e) => e.event === "auth.root_recovery_issued");
    expect(issuedEvents.length).toBe(issuedTokens.length);
    for (const e of issuedEvents)
      expect(e).toMatchObject({
        sensitivity: "security",
        severity: "warn",
        actorType: "system",
        actorId: "vecto recover-root",
      });
    const completed = events.filter((e) => e.event === "auth.password_reset_completed");
    expect(completed.length).toBeGreaterThanOrEqual(4);
    for (const e of completed) {
      expect(e.sensitivity).toBe("security");
      expect(JSON.parse(e.payload)).toMatchObject({ issuedBy: "vecto recover-root" });
    }
    expect(serverLog).toContain("auth.password_reset_completed");
    const rows = JSON.stringify(events);
    const cliLogs = cliOutput.join("\n");
    const files = readdirSync(f.dataDir)
      .filter((name) => /\.db(-wal)?$/.test(name))
      .map((name) => readFileSync(join(f.dataDir, name)));
    for (const token of issuedTokens) {
      const secret = token.slice(4);
      expect(secret).toHaveLength(43);
      expect(rows).not.toContain(secret);
      expect(serverLog).not.toContain(secret);
      expect(cliLogs).not.toContain(secret);
      for (const file of files) expect(file.includes(secret)).toBe(false);
    }
  });
});

describe("vecto recover-root before setup", () => {
  it("refuses and points to vecto setup-token", () => {
    const dir = tempDir();
    try {
      const env = { VECTO_DATA_DIR: join(dir.path, "data") };
      expect(runCli(["init"], { cwd: dir.path, env }).status).toBe(0);
      const result = runCli(["recover-root"], { cwd: dir.path, env });
      expect(result.status).toBe(1);
      expect(result.stdout).toBe("");
      expect(result.stderr).toBe(
        'vecto: setup is not complete: there is no platform root to recover; create it with a setup token ("vecto setup-token")\n',
      );
      const raw = new BetterSqlite3(join(dir.path, "data", "vecto.db"), { readonly: true });
      expect(raw.prepare("SELECT count(*) AS n FROM password_resets").get()).toEqual({ n: 0 });
      raw.close();
    } finally {
      dir.cleanup();
    }
  });
});
