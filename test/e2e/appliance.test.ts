/**
 * The single binary, run the way a customer runs it: copied ALONE into an empty directory, clean
 * environment, no node_modules anywhere above it. Builds with appliance/build-sea.mjs first.
 *
 * - appliance self-check (appliance/probe): all three native addons load from SEA assets, are
 *   extracted under the cache dir (native/ 0700, sealed hash dirs 0500, files 0500/0400), and nothing lands in $TMPDIR or /tmp.
 * - dist/vecto: `version`, `--help`, `init`, `serve` + GET /healthz over HTTPS, SIGTERM -> exit 0.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import {
  appendFileSync,
  chmodSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
} from "node:fs";
import { request } from "node:https";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pkg from "../../package.json" with { type: "json" };

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
// VECTO_E2E_BINARY: test an already built binary (e.g. a release candidate) instead of building dist/vecto.
const PREBUILT = process.env.VECTO_E2E_BINARY ? resolve(process.env.VECTO_E2E_BINARY) : undefined;
const BINARY = PREBUILT ?? join(ROOT, "dist", "vecto");
const BUILD_TIMEOUT = 240_000;

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** A fresh empty directory with no node_modules in any ancestor, plus its private TMPDIR sentinel. */
function freshDir(prefix: string): { dir: string; tmp: string } {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), prefix)));
  for (let d = dirname(dir); ; d = dirname(d)) {
    if (existsSync(join(d, "node_modules")))
      throw new Error(`${d} has a node_modules: the test would not prove anything`);
    if (dirname(d) === d) break;
  }
  const tmp = join(dir, "tmp-sentinel");
  mkdirSync(tmp, { mode: 0o700 });
  return { dir, tmp };
}

/** What a customer's shell would have: no NODE_PATH, NODE_OPTIONS, npm_* or VECTO_* leaking in from the test runner. */
function cleanEnv(dir: string, tmp: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: "/usr/local/bin:/usr/bin:/bin", HOME: dir, TMPDIR: tmp, LANG: "C.UTF-8", ...extra };
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, timeout = 60_000): RunResult {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { cwd, env, encoding: "utf8", timeout });
  if (r.error) throw r.error;
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, ms: performance.now() - t0 };
}

function build(args: string[]): void {
  const r = run(
    process.execPath,
    [join(ROOT, "appliance", "build-sea.mjs"), ...args],
    ROOT,
    process.env,
    BUILD_TIMEOUT,
  );
  if (r.code !== 0) throw new Error(`build-sea ${args.join(" ")} failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
}

/** Native-looking names directly in the system temp dir(s), to compare before/after. */
function tmpNativeEntries(): Set<string> {
  const out = new Set<string>();
  for (const d of new Set([tmpdir(), "/tmp", "/var/tmp"])) {
    let names: string[] = [];
    try {
      names = readdirSync(d);
    } catch {
      continue;
    }
    for (const n of names) if (/\.node$|better_sqlite3|argon2|pkcs11|vecto-native/i.test(n)) out.add(join(d, n));
  }
  return out;
}

/** Every *.node file under dir (recursive). */
function nodeFilesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && e.name.endsWith(".node")) out.push(join(e.parentPath, e.name));
  }
  return out;
}

/** Extracted addons live in <cacheDir>/native/<sha256 prefix>/ (0500 once verified; native/ 0700), files 0500 or 0400, nowhere else. */
function expectAddonsExtractedUnder(dir: string, cacheDir: string, names: string[]): void {
  const native = join(cacheDir, "native");
  expect(statSync(native).mode & 0o777).toBe(0o700);
  const files = nodeFilesUnder(dir);
  for (const f of files) {
    expect(f.startsWith(native + "/"), `${f} is outside ${native}`).toBe(true);
    expect(dirname(dirname(f))).toBe(native);
    expect(/^[0-9a-f]{16}$/.test(dirname(f).slice(native.length + 1)), `${f}: directory is not a hash prefix`).toBe(
      true,
    );
    expect(statSync(dirname(f)).mode & 0o777, `${dirname(f)}: a sealed addon directory`).toBe(0o500);
    expect([0o500, 0o400]).toContain(statSync(f).mode & 0o777);
  }
  for (const n of names)
    expect(
      files.some((f) => f.endsWith(`/${n}.node`)),
      `${n}.node not extracted`,
    ).toBe(true);
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      s.close(() => (addr && typeof addr === "object" ? res(addr.port) : rej(new Error("no port"))));
    });
  });
}

function httpsGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((res, rej) => {
    const req = request(
      { host: "127.0.0.1", port, path, method: "GET", rejectUnauthorized: false, timeout: 2_000 },
      (r) => {
        let body = "";
        r.setEncoding("utf8");
        r.on("data", (c: string) => (body += c));
        r.on("end", () => res({ status: r.statusCode ?? 0, body }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", rej);
    req.end();
  });
}

function waitExit(child: ChildProcess, ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((res, rej) => {
    if (child.exitCode !== null || child.signalCode !== null)
      return res({ code: child.exitCode, signal: child.signalCode });
    const t = setTimeout(() => rej(new Error(`process did not exit within ${ms} ms`)), ms);
    child.once("exit", (code, signal) => {
      clearTimeout(t);
      res({ code, signal });
    });
  });
}

const dirs: string[] = [];
const children: ChildProcess[] = [];
let tmpBefore = new Set<string>();

beforeAll(() => {
  tmpBefore = tmpNativeEntries();
  build(["--probe"]);
  if (!PREBUILT) build([]);
}, BUILD_TIMEOUT);

afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("appliance self-check (probe binary)", () => {
  it("loads better-sqlite3, argon2 and pkcs11js from SEA assets in an empty directory", () => {
    const { dir, tmp } = freshDir("vecto-probe-");
    dirs.push(dir);
    copyFileSync(join(ROOT, "dist", "probe", "vecto-probe"), join(dir, "vecto-probe"));
    chmodSync(join(dir, "vecto-probe"), 0o755);
    expect(readdirSync(dir).sort()).toEqual(["tmp-sentinel", "vecto-probe"]);

    const r = run("./vecto-probe", [], dir, cleanEnv(dir, tmp));
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as {
      ok: boolean;
      argon2: boolean;
      pkcs11: boolean;
      addonDir: string;
      node: string;
    };
    expect(out).toMatchObject({ ok: true, argon2: true, pkcs11: true, node: process.version });
    const cacheDir = join(dir, "data", "cache");
    expect(out.addonDir).toBe(join(cacheDir, "native"));
    expectAddonsExtractedUnder(dir, cacheDir, ["better_sqlite3", "argon2", "pkcs11"]);
    expect(readdirSync(tmp)).toEqual([]);

    // Second start reuses the verified files.
    const again = run("./vecto-probe", [], dir, cleanEnv(dir, tmp));
    expect(again.code).toBe(0);
    console.log(`[appliance] probe: first start ${r.ms.toFixed(0)} ms (extracting), second ${again.ms.toFixed(0)} ms`);

    // A tampered file is replaced from the binary, not loaded; so is a symlink planted in its place.
    const files = nodeFilesUnder(dir);
    const argon = files.find((f) => f.endsWith("/argon2.node")) ?? "";
    const sqlite = files.find((f) => f.endsWith("/better_sqlite3.node")) ?? "";
    const sha = (f: string): string => createHash("sha256").update(readFileSync(f)).digest("hex");
    const argonSha = sha(argon);
    chmodSync(argon, 0o600);
    appendFileSync(argon, "tampered");
    rmSync(sqlite);
    symlinkSync("/bin/true", sqlite);
    const healed = run("./vecto-probe", [], dir, cleanEnv(dir, tmp));
    expect(healed.code, healed.stderr).toBe(0);
    expect(sha(argon)).toBe(argonSha);
    expect(lstatSync(sqlite).isFile()).toBe(true);
    expectAddonsExtractedUnder(dir, cacheDir, ["better_sqlite3", "argon2", "pkcs11"]);
  });

  it("honours VECTO_CACHE_DIR and fails with one clear line when it cannot be used", () => {
    const { dir, tmp } = freshDir("vecto-probe-");
    dirs.push(dir);
    copyFileSync(join(ROOT, "dist", "probe", "vecto-probe"), join(dir, "vecto-probe"));
    chmodSync(join(dir, "vecto-probe"), 0o755);
    const cache = join(dir, "elsewhere", "cache");
    const ok = run("./vecto-probe", [], dir, cleanEnv(dir, tmp, { VECTO_CACHE_DIR: cache }));
    expect(ok.code).toBe(0);
    expectAddonsExtractedUnder(dir, cache, ["better_sqlite3", "argon2", "pkcs11"]);

    // A cache dir whose parent is a regular file cannot be created: one line, exit 1.
    const bad = run(
      "./vecto-probe",
      [],
      dir,
      cleanEnv(dir, tmp, { VECTO_CACHE_DIR: join(dir, "vecto-probe", "cache") }),
    );
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe("");
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
    expect(bad.stderr).toMatch(/native addon/);
  });
});

describe("dist/vecto from an empty directory", () => {
  let dir = "";
  let tmp = "";
  const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => cleanEnv(dir, tmp, extra);

  beforeAll(() => {
    ({ dir, tmp } = freshDir("vecto-e2e-"));
    dirs.push(dir);
    copyFileSync(BINARY, join(dir, "vecto"));
    chmodSync(join(dir, "vecto"), 0o755);
    expect(readdirSync(dir).sort()).toEqual(["tmp-sentinel", "vecto"]);
  });

  it("`vecto version` prints the package.json version and exits 0", () => {
    const r = run("./vecto", ["version"], dir, env());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(pkg.version);
    console.log(`[appliance] exec -> version output: ${r.ms.toFixed(0)} ms`);
  });

  it("`vecto --help` exits 0", () => {
    const r = run("./vecto", ["--help"], dir, env());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/serve/);
  });

  it("`vecto init` creates ./data with a 0600 master key and a TLS certificate", () => {
    const r = run("./vecto", ["init"], dir, env());
    expect(r.code, r.stderr).toBe(0);
    const data = join(dir, "data");
    expect(statSync(data).isDirectory()).toBe(true);
    expect(statSync(join(data, "master.key")).mode & 0o777).toBe(0o600);
    expect(statSync(join(data, "tls", "cert.pem")).isFile()).toBe(true);
    expect(statSync(join(data, "tls", "key.pem")).isFile()).toBe(true);
    expect(statSync(join(data, "tls", "key.pem")).mode & 0o077).toBe(0);
  });

  it("`vecto serve` answers GET /healthz over HTTPS and exits 0 on SIGTERM", async () => {
    const port = await freePort();
    const t0 = performance.now();
    const child = spawn("./vecto", ["serve"], {
      cwd: dir,
      env: env({ VECTO_LISTEN: `127.0.0.1:${port}` }),
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.push(child);
    let output = "";
    child.stdout?.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr?.on("data", (c: Buffer) => (output += c.toString()));

    let health: { status: number; body: string } | undefined;
    while (performance.now() - t0 < 30_000) {
      if (child.exitCode !== null) throw new Error(`serve exited early (${child.exitCode}):\n${output}`);
      try {
        health = await httpsGet(port, "/healthz");
        if (health.status === 200) break;
      } catch {
        /* not listening yet */
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    const readyMs = performance.now() - t0;
    expect(health?.status, output).toBe(200);
    expect(JSON.parse(health?.body ?? "{}")).toMatchObject({ status: "ok" });
    console.log(`[appliance] exec -> /healthz 200: ${readyMs.toFixed(0)} ms`);

    child.kill("SIGTERM");
    const exit = await waitExit(child, 15_000);
    expect(exit, output).toEqual({ code: 0, signal: null });

    // The database was opened, so better-sqlite3's addon was extracted: under the cache dir only.
    expectAddonsExtractedUnder(dir, join(dir, "data", "cache"), ["better_sqlite3"]);
    expect(readdirSync(tmp)).toEqual([]);
  }, 60_000);
});

describe("nothing extracted to the system temp dir", () => {
  it("no new native files appeared in /tmp, /var/tmp or os.tmpdir()", () => {
    const added = [...tmpNativeEntries()].filter((p) => !tmpBefore.has(p));
    expect(added).toEqual([]);
  });
});
