/**
 * The vendor key list is a build input (issue 8, point 2): a key made with the vendor's tool
 * (`npm run licensing -- keygen`), a bundle built with it (`node appliance/bundle.mjs --vendor-keys
 * FILE`, what `npm run build` and `npm run build:appliance` run), a license issued with the tool.
 * The bundle built with the key accepts the license and reports the key in `version --json`; the
 * standard dist/vecto.cjs (the default keys) refuses it naming the kid; a bad keys file fails the
 * build with one line. Everything runs as processes, with a clean environment, as an operator would.
 */
import { execFile, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_VENDOR_KEYS } from "../../src/license/vendor-keys.js";
import { CLI, cleanEnv, ROOT, tempDir } from "../helpers.js";

interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `node ARGS` from the repository root with a clean environment, asynchronously (steps run side by side). */
function node(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      args,
      { cwd: ROOT, env: cleanEnv(env), encoding: "utf8", timeout: 60_000 },
      (error, stdout, stderr) => {
        done({ status: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

const tool = (args: string[]): Promise<Run> => node(["--import", "tsx", join(ROOT, "licensing", "cli.ts"), ...args]);
const buildBundle = (outfile: string, keys: string): Promise<Run> =>
  node([join(ROOT, "appliance", "bundle.mjs"), "--outfile", outfile, "--vendor-keys", keys]);

/** `npm run build -- ARGS`: the build `npm start` runs first, as the operator's shell runs it. */
function npmBuild(args: string[]): Promise<Run> {
  return new Promise((done) => {
    execFile(
      "npm",
      ["run", "--silent", "build", "--", ...args],
      { cwd: ROOT, env: cleanEnv(), encoding: "utf8", timeout: 120_000 },
      (error, stdout, stderr) => {
        done({ status: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr });
      },
    );
  });
}
const lines = (text: string): string[] =>
  text
    .trim()
    .split("\n")
    .filter((l) => l !== "");
const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

describe("vendor keys as a build input", () => {
  const dir = tempDir("vecto-build-keys-");
  const keyDir = join(dir.path, "vendor");
  const built = join(dir.path, "vecto.cjs");
  const license = join(dir.path, "acme.lic");
  const builtData = join(dir.path, "data-built");
  const defaultData = join(dir.path, "data-default");
  let kid: string;
  let keysFile: string;
  let build: Run;

  /** The built bundle (or the standard one) as a process: clean env, its own data dir; native packages from the repository's node_modules. */
  const cli = (bundle: string, data: string, args: string[]): Run => {
    const r = spawnSync(process.execPath, [bundle, ...args], {
      cwd: dir.path,
      env: cleanEnv({ VECTO_DATA_DIR: data, NODE_PATH: join(ROOT, "node_modules") }),
      encoding: "utf8",
      timeout: 60_000,
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  beforeAll(async () => {
    const generated = await tool(["keygen", "--out", keyDir, "--json"]);
    expect(generated.status, generated.stderr).toBe(0);
    ({ kid, vendorKeysFile: keysFile } = JSON.parse(generated.stdout) as { kid: string; vendorKeysFile: string });
    const expires = new Date(Date.now() + 365 * 86_400_000).toISOString().slice(0, 10);
    const issue = [
      "issue",
      "--key",
      join(keyDir, "vendor-license-key.pem"),
      "--license-id",
      "LIC-BUILD-KEYS-1",
      "--licensee",
      "Build Keys Test NV",
      "--edition",
      "enterprise",
    ];
    issue.push(
      "--mode",
      "appliance",
      "--tenants",
      "2",
      "--users",
      "5",
      "--agents",
      "1",
      "--expires",
      expires,
      "--sequence",
      "1",
      "--out",
      license,
    );
    const [b, issued, initDefault] = await Promise.all([
      buildBundle(built, keysFile),
      tool(issue),
      node([CLI, "init"], { VECTO_DATA_DIR: defaultData }),
    ]);
    build = b;
    expect(issued.status, issued.stderr).toBe(0);
    expect(initDefault.status, initDefault.stderr).toBe(0);
  });
  afterAll(() => dir.cleanup());

  it("keygen writes the build input; the build checks it and prints the kid it compiles in", () => {
    expect(kid).toMatch(/^[0-9a-f]{16}$/);
    expect(JSON.parse(readFileSync(keysFile, "utf8"))).toEqual([
      { kid, publicKey: expect.stringMatching(/^[A-Za-z0-9+/]{43}=$/) },
    ]);
    expect(build.status, build.stderr).toBe(0);
    expect(build.stdout).toContain(`bundle: vendor keys compiled in: ${kid} (${keysFile})`);
    expect(DEFAULT_VENDOR_KEYS.map((k) => k.kid)).not.toContain(kid);
  });

  it("the bundle built with the key installs the license the tool issued: state valid, the licensee", () => {
    const init = cli(built, builtData, ["init"]);
    expect(init.status, init.stderr).toBe(0);
    const install = cli(built, builtData, ["license", "install", license]);
    expect(install.status, install.stderr).toBe(0);
    const show = cli(built, builtData, ["license", "show", "--json"]);
    expect(show.status, show.stderr).toBe(0);
    expect(JSON.parse(show.stdout)).toMatchObject({
      state: "valid",
      license: { licenseId: "LIC-BUILD-KEYS-1", licensee: "Build Keys Test NV", kid },
    });
  });

  it("version --json reports the vendor key ids compiled in: the built key only; the standard bundle the default list", () => {
    const version = cli(built, builtData, ["version", "--json"]);
    expect(version.status, version.stderr).toBe(0);
    expect(JSON.parse(version.stdout)).toMatchObject({ vendorKeyIds: [kid] });
    const standard = cli(CLI, defaultData, ["version", "--json"]);
    expect(JSON.parse(standard.stdout)).toMatchObject({ vendorKeyIds: DEFAULT_VENDOR_KEYS.map((k) => k.kid) });
  });

  it("a rebuild without --vendor-keys (npm start runs npm run build) keeps the build's keys and the license stays valid; --default-vendor-keys drops them", async () => {
    const record = `${built}.vendor-keys.json`;
    expect(JSON.parse(readFileSync(record, "utf8"))).toEqual({
      source: keysFile,
      keys: [{ kid, publicKey: expect.any(String) }],
    });
    const rebuilt = await npmBuild(["--outfile", built]);
    expect(rebuilt.status, rebuilt.stderr).toBe(0);
    expect(lines(rebuilt.stdout).at(-1)).toBe(
      `bundle: vendor keys compiled in: ${kid} (kept from the previous build: ${keysFile}, recorded in ${record}; --default-vendor-keys drops them)`,
    );
    expect(JSON.parse(cli(built, builtData, ["version", "--json"]).stdout)).toMatchObject({ vendorKeyIds: [kid] });
    expect(JSON.parse(cli(built, builtData, ["license", "show", "--json"]).stdout)).toMatchObject({
      state: "valid",
      license: { kid },
    });

    const reset = await npmBuild(["--outfile", built, "--default-vendor-keys"]);
    expect(reset.status, reset.stderr).toBe(0);
    expect(existsSync(record)).toBe(false);
    expect(JSON.parse(cli(built, builtData, ["version", "--json"]).stdout)).toMatchObject({
      vendorKeyIds: DEFAULT_VENDOR_KEYS.map((k) => k.kid),
    });
    // Back to the vendor's keys for the tests after this one.
    expect((await buildBundle(built, keysFile)).status).toBe(0);
  }, 180_000);

  it("a damaged record of the previous build's keys fails the build with one line saying how to choose", async () => {
    const outfile = join(dir.path, "damaged.cjs");
    writeFileSync(`${outfile}.vendor-keys.json`, '{"keys": []}');
    const r = await node([join(ROOT, "appliance", "bundle.mjs"), "--outfile", outfile]);
    expect(r.status).toBe(1);
    expect(lines(r.stderr)).toEqual([
      expect.stringMatching(
        /^bundle: .*damaged\.cjs\.vendor-keys\.json \(the vendor keys of the previous build\): must be a non-empty JSON array .*; rebuild with --vendor-keys FILE or --default-vendor-keys$/,
      ),
    ]);
    expect(existsSync(outfile)).toBe(false);
  });

  it("the standard dist/vecto.cjs (default keys) refuses the same license in one line naming the untrusted kid", () => {
    const install = cli(CLI, defaultData, ["license", "install", license]);
    expect(install.status).toBe(1);
    expect(lines(install.stderr).at(-1)).toBe(
      `vecto: license refused: the license is signed with key ${kid}, which this build does not trust (a license from another vendor key, or a build that predates the key)`,
    );
    expect(JSON.parse(cli(CLI, defaultData, ["license", "show", "--json"]).stdout)).toMatchObject({
      state: "unlicensed",
      license: null,
    });
  });

  it("a malformed keys file fails the build with one line, and writes no bundle", async () => {
    const entry = JSON.parse(readFileSync(keysFile, "utf8"))[0] as { kid: string; publicKey: string };
    const otherKid = DEFAULT_VENDOR_KEYS[0]!.kid;
    const cases: [string, string, RegExp][] = [
      ["not-json", "{ not json", /: not JSON \(/],
      ["empty", "[]", /: must be a non-empty JSON array/],
      [
        "wrong-kid",
        JSON.stringify([{ kid: otherKid, publicKey: entry.publicKey }]),
        new RegExp(
          `: entry 1 \\(kid ${otherKid}\\): vendor key list: kid ${otherKid} does not match its public key \\(${kid}\\)$`,
        ),
      ],
      [
        "bad-key",
        JSON.stringify([entry, { kid: "0123456789abcdef", publicKey: "AAAA" }]),
        /: entry 2 \(kid 0123456789abcdef\): expected an Ed25519 public key: 32 bytes in base64, or an SPKI PEM$/,
      ],
      [
        "extra-field",
        JSON.stringify([{ ...entry, privateKeyFile: "x.pem" }]),
        /: entry 1: unknown field "privateKeyFile"/,
      ],
      ["twice", JSON.stringify([entry, entry]), new RegExp(`: entry 2: kid ${kid} is listed twice$`)],
    ];
    const runs = await Promise.all(
      cases.map(([name, text]) => {
        const file = join(dir.path, `${name}.json`);
        writeFileSync(file, text);
        return buildBundle(join(dir.path, `${name}.cjs`), file);
      }),
    );
    cases.forEach(([name, , message], i) => {
      const r = runs[i]!;
      expect(r.status, name).toBe(1);
      expect(lines(r.stderr), name).toHaveLength(1);
      expect(r.stderr.trim(), name).toMatch(
        new RegExp(`^bundle: --vendor-keys ${escape(join(dir.path, `${name}.json`))}${message.source}`),
      );
      expect(existsSync(join(dir.path, `${name}.cjs`)), name).toBe(false);
    });
  });
});
