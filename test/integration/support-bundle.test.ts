/**
 * `vecto support-bundle`, run from the built bundle against a real data directory full of
 * distinctive tenant content (titles, bodies, names, e-mail addresses, a tenant slug and name, a
 * tenant secret), the appliance's own log of making it plus hostile log lines, a real master key
 * file and a real SoftHSM PIN: the archive has the expected parts, each private (0600), and none
 * of that content or secret occurs anywhere in its bytes.
 */
import { appendFileSync, cpSync, existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { pino } from "pino";
import { extract } from "tar-stream";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { keystoreMigrations, migrations } from "../../src/db/migrations/index.js";
import { createLogger } from "../../src/log.js";
import { createSoftHsmToken } from "../fixtures/softhsm.js";
import { freePort, runCli, startServe, tempDir, testDir, waitForExit } from "../helpers.js";
import { identityFixture, STRONG_PASSWORD } from "../identity-fixture.js";

const M = {
  slug: "zq-slug-7731",
  tenantName: "Zqtenantname Marker",
  adminEmail: "zq.admin.7731@example.test",
  adminName: "Zqadminname Marker",
  userEmail: "zq.user.7731@example.test",
  userName: "Zqusername Marker",
  project: "Zqprojectname Marker",
  title: "Zqtitle Marker 7731",
  body: "Zqbody marker text 7731",
  secretName: "zq-secretname-7731",
  secretValue: "zq-secretvalue-7731-aaaa",
  secretValue2: "zq-secretvalue-7731-bbbb",
} as const;

interface Entry {
  readonly name: string;
  readonly mode: number;
  readonly text: string;
}

async function unpack(file: string): Promise<{ raw: Buffer; entries: Entry[] }> {
  const raw = gunzipSync(readFileSync(file));
  const entries: Entry[] = [];
  const ex = extract();
  const done = new Promise<void>((resolve, reject) => {
    ex.on("entry", (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        entries.push({ name: header.name, mode: header.mode ?? 0, text: Buffer.concat(chunks).toString("utf8") });
        next();
      });
    });
    ex.on("finish", resolve);
    ex.on("error", reject);
  });
  ex.end(raw);
  await done;
  return { raw, entries };
}

/** Every marker, looked for case-insensitively in the raw bytes of the uncompressed archive. */
function leaks(raw: Buffer, secrets: readonly (string | Buffer)[]): string[] {
  const lower = Buffer.from(raw.toString("latin1").toLowerCase(), "latin1");
  return secrets
    .filter((s) => (typeof s === "string" ? lower.includes(s.toLowerCase()) : raw.includes(s)))
    .map((s) => (typeof s === "string" ? s : `<${s.length} bytes>`));
}

describe("vecto support-bundle", () => {
  const own = tempDir("vecto-support-");
  const dataDir = join(own.path, "data");
  const logFile = join(own.path, "serve.log");
  const env = { VECTO_DATA_DIR: dataDir, VECTO_LOG_LEVEL: "silent" };
  let tenantId: string;
  let rootEmail: string;
  let masterKey: string;
  let fixtureKeyFile: string;

  beforeAll(async () => {
    const f = await identityFixture({ log: createLogger("info", pino.destination({ dest: logFile, sync: true })) });
    rootEmail = f.root.email;
    fixtureKeyFile = join(f.dataDir, "master.key");
    const created = await f.call("POST", "/api/tenants", {
      token: f.root.tokens.accessToken,
      body: {
        slug: M.slug,
        name: M.tenantName,
        admin: { email: M.adminEmail, name: M.adminName, password: STRONG_PASSWORD },
      },
    });
    expect(created.status).toBe(201);
    tenantId = ((await created.json()) as { tenant: { id: string } }).tenant.id;
    const token = ((await (await f.login(M.slug, M.adminEmail, STRONG_PASSWORD)).json()) as { accessToken: string })
      .accessToken;
    const user = await f.call("POST", "/api/users", {
      token,
      body: {
        email: M.userEmail,
        name: M.userName,
        role: "member",
        kind: "human",
        auditor: false,
        password: STRONG_PASSWORD,
      },
    });
    expect(user.status).toBe(201);
    const project = await f.call("POST", "/api/projects", { token, body: { name: M.project } });
    const pid = ((await project.json()) as { project: { id: string } }).project.id;
    expect(
      (
        await f.call("POST", `/api/projects/${pid}/nodes`, {
          token,
          body: { type: "decision", title: M.title, body: M.body },
        })
      ).status,
    ).toBe(201);
    expect(
      (await f.call("POST", "/api/secrets", { token, body: { name: M.secretName, value: M.secretValue } })).status,
    ).toBe(201);
    expect(
      (await f.call("PUT", `/api/secrets/${M.secretName}`, { token, body: { value: M.secretValue2 } })).status,
    ).toBe(200);
    expect((await f.login(M.slug, M.userEmail, "wrong-password-entirely")).status).toBe(401);
    // The fixture removes its directory on close: work on a copy of the closed data directory.
    f.services.close();
    cpSync(f.dataDir, dataDir, { recursive: true });
    f.close();
    masterKey = readFileSync(join(dataDir, "master.key"), "utf8").trim();
    // What a careless future log call could write: the bundle must not carry it either.
    const now = new Date().toISOString();
    appendFileSync(
      logFile,
      `${JSON.stringify({ level: "error", time: now, msg: `failed for ${M.adminEmail} in ${M.slug}`, tenant: M.tenantName, title: M.title, path: `/api/secrets/${M.secretName}`, error: { name: "SyntaxError", message: `Unexpected token in "${M.body}"`, stack: `SyntaxError: ${M.body}\n    at handler (/opt/vecto/x.js:1:2)` } })}\n` +
        `Uncaught exception while rendering ${M.title} for ${M.userName}\n` +
        `${JSON.stringify({ level: "info", time: "2001-01-01T00:00:00.000Z", msg: "too old to be included", requestId: "ancient" })}\n`,
    );
  }, 60_000);
  afterAll(() => own.cleanup());

  const markers = (): (string | Buffer)[] => [
    ...Object.values(M),
    rootEmail,
    "Root Operator",
    masterKey,
    Buffer.from(masterKey, "base64"),
    Buffer.from(masterKey, "base64").toString("hex"),
    join(dataDir, "master.key"),
    // The path the fixture's log names (before the data directory was copied).
    fixtureKeyFile,
    join(dataDir, "tls", "key.pem"),
  ];

  it("writes a 0600 archive with every part, and no tenant content, personal data or secret anywhere in it", async () => {
    // The input does hold them (so finding none in the archive means something):
    expect(
      leaks(readFileSync(logFile), [M.title, M.adminEmail, M.secretName, M.tenantName, fixtureKeyFile]),
    ).toHaveLength(5);
    const out = join(own.path, "support.tar.gz");
    const r = runCli(["support-bundle", "--out", out, "--since", "1h", "--log-file", logFile], { cwd: own.path, env });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`support bundle written to ${out}`);
    expect(statSync(out).mode & 0o777).toBe(0o600);

    const { raw, entries } = await unpack(out);
    const names = entries.map((e) => e.name);
    expect(names).toEqual([
      "support/",
      ...[
        "MANIFEST.txt",
        "audit.json",
        "config.json",
        "doctor.txt",
        "installation.json",
        "keys-status.json",
        "logs.txt",
        "version.json",
      ].map((n) => `support/${n}`),
    ]);
    for (const e of entries) expect(e.mode, e.name).toBe(e.name.endsWith("/") ? 0o700 : 0o600);
    expect(leaks(raw, markers())).toEqual([]);

    const file = (name: string): string => entries.find((e) => e.name === `support/${name}`)?.text ?? "";
    // The bundle did read the installation: the tenant is there by id, with its keys and audit log.
    expect(JSON.parse(file("version.json"))).toMatchObject({
      vecto: expect.any(String),
      schema: {
        database: { version: migrations.at(-1)?.version },
        keystore: { version: keystoreMigrations.at(-1)?.version },
      },
    });
    expect(JSON.parse(file("config.json"))).toMatchObject({
      dataDir,
      masterKeyFile: "[redacted] (path of a secret file)",
      keyResolver: "env",
    });
    expect(file("doctor.txt")).toMatch(/^ok {4}database: .*integrity ok/m);
    expect(file("doctor.txt")).toContain("ok    master key file: <master key file> (0600)");
    const keys = JSON.parse(file("keys-status.json")) as {
      resolver: { kind: string };
      tenants: { tenantId: string; versions: { values: number }[] }[];
    };
    expect(keys.resolver.kind).toBe("env");
    expect(keys.tenants.find((t) => t.tenantId === tenantId)?.versions[0]?.values).toBeGreaterThan(3);
    const audit = JSON.parse(file("audit.json")) as { logs: { log: string; events: number }[] };
    expect(audit.logs.find((l) => l.log === tenantId)?.events).toBeGreaterThan(3);
    expect(JSON.parse(file("installation.json"))).toMatchObject({
      tenants: { count: 1, list: [{ id: tenantId, kind: "customer", status: "active" }] },
    });

    // Logs: the appliance's own records, reduced; the hostile ones defused; the old one left out.
    const logs = file("logs.txt");
    expect(logs).toContain(`# source: log file ${logFile}`);
    expect(logs).toMatch(new RegExp(`"method":"POST","path":"/api/projects/[0-9a-f-]{36}/nodes","status":201`));
    expect(logs).toContain('"path":"/api/secrets/[redacted]"');
    expect(logs).toContain(`"audit":{"event":"auth.login_failed","tenantId":"${tenantId}"`);
    expect(logs).toContain('"msg":"failed for [email] in [tenant]"');
    expect(logs).toContain('"redactedFields":["tenant","title"]');
    expect(logs).toContain("    at handler (/opt/vecto/x.js:1:2)");
    expect(logs).toMatch(/\[non-JSON line omitted: \d+ characters\]/);
    expect(logs).not.toContain("ancient");

    const manifest = file("MANIFEST.txt");
    for (const name of [
      "version.json",
      "config.json",
      "doctor.txt",
      "keys-status.json",
      "audit.json",
      "installation.json",
      "logs.txt",
    ])
      expect(manifest).toContain(`  ${name}`);
    expect(manifest).toContain("Deliberately excluded:");
    expect(manifest).toContain("(nothing: every part was collected)");
  });

  it("works next to a running server (read-only), and reads the journal when no log file is given", async () => {
    const port = await freePort();
    const serveEnv = { ...env, VECTO_LOG_LEVEL: "info", VECTO_LISTEN: `127.0.0.1:${port}` };
    const server = await startServe(own.path, serveEnv, ["--no-setup-token"]);
    try {
      const out = join(own.path, "live.tar.gz");
      const r = runCli(["support-bundle", "--out", out, "--json"], { cwd: own.path, env: serveEnv });
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      const result = JSON.parse(r.stdout) as { file: string; bytes: number; files: string[]; problems: string[] };
      expect(result).toMatchObject({ file: out, bytes: statSync(out).size });
      const { raw, entries } = await unpack(out);
      expect(leaks(raw, markers())).toEqual([]);
      const file = (name: string): string => entries.find((e) => e.name === `live/${name}`)?.text ?? "";
      expect(file("doctor.txt")).toMatch(/^ok {4}database: /m);
      expect(
        (JSON.parse(file("keys-status.json")) as { tenants: { tenantId: string }[] }).tenants.map((t) => t.tenantId),
      ).toContain(tenantId);
      // Whatever the journal here holds for vecto.service, the file says where it looked; nothing is made up.
      expect(file("logs.txt")).toContain("# source: journalctl --unit vecto.service --since @");
      if (!/^\{/m.test(file("logs.txt"))) expect(file("logs.txt")).toMatch(/^# note: /m);
    } finally {
      server.child.kill("SIGTERM");
      await waitForExit(server.child);
    }
  });

  it("with a PKCS#11 master key: the PIN and its file's path are nowhere, the resolver is reported", async () => {
    const pin = "zq-pin-7731";
    const hsm = createSoftHsmToken({ pin });
    onTestFinished(() => hsm.cleanup());
    const dir = testDir("vecto-support-hsm-");
    const hsmEnv = hsm.env("support-master", { VECTO_DATA_DIR: join(dir, "data"), VECTO_LOG_LEVEL: "silent" });
    expect(runCli(["init"], { cwd: dir, env: hsmEnv }).status).toBe(0);
    expect(runCli(["keys", "init-hsm"], { cwd: dir, env: hsmEnv }).status).toBe(0);
    const out = join(dir, "hsm.tar.gz");
    const r = runCli(["support-bundle", "--out", out], { cwd: dir, env: hsmEnv });
    expect(r.status, r.stderr).toBe(0);
    const { raw, entries } = await unpack(out);
    expect(leaks(raw, [pin, hsm.pinFile, hsm.soPin === pin ? pin : hsm.soPin])).toEqual([]);
    const file = (name: string): string => entries.find((e) => e.name === `hsm/${name}`)?.text ?? "";
    expect(JSON.parse(file("keys-status.json"))).toMatchObject({
      resolver: { kind: "pkcs11", masterLabel: "pkcs11:vecto-test/support-master" },
    });
    expect(JSON.parse(file("config.json"))).toMatchObject({
      keyResolver: "pkcs11",
      pkcs11: { tokenLabel: "vecto-test", keyLabel: "support-master", pinFile: "[redacted] (path of a secret file)" },
    });
    expect(file("doctor.txt")).toContain("ok    key resolver: pkcs11");
  }, 60_000);

  it("still bundles what it can when the configuration does not load; refuses bad options and existing files with one line", async () => {
    const out = join(own.path, "badconfig.tar.gz");
    const r = runCli(["support-bundle", "--out", out, "--log-file", logFile], {
      cwd: own.path,
      env: { ...env, VECTO_LISTEN: "nope" },
    });
    expect(r.status).toBe(0);
    const { entries } = await unpack(out);
    const file = (name: string): string => entries.find((e) => e.name === `badconfig/${name}`)?.text ?? "";
    expect(JSON.parse(file("config.json"))).toEqual({ error: 'VECTO_LISTEN: expected host:port (got "nope")' });
    expect(file("doctor.txt")).toContain("the checks could not run");
    expect(file("MANIFEST.txt")).toContain("database not read: configuration: VECTO_LISTEN");

    for (const [args, message] of [
      [["--since", "5x"], 'vecto: --since: expected a duration such as 30m, 24h or 7d (got "5x")'],
      [["--since", "100d"], 'vecto: --since: at most 90d (got "100d")'],
      [["--out", out], `vecto: ${out} already exists; choose another --out`],
      [["--out", join(own.path, "no", "such", "dir.tar.gz")], "vecto: cannot create"],
    ] as const) {
      const before = readFileSync(out);
      const bad = runCli(["support-bundle", ...args], { cwd: own.path, env });
      expect(bad.status, args.join(" ")).toBe(1);
      expect(bad.stderr.split("\n").filter(Boolean), args.join(" ")).toHaveLength(1);
      expect(bad.stderr.startsWith(message), bad.stderr).toBe(true);
      expect(readFileSync(out).equals(before)).toBe(true);
    }
    expect(existsSync(join(own.path, "no"))).toBe(false);
    const help = runCli(["support-bundle", "--help"], { cwd: own.path, env });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("--since <duration>");
  });
});
