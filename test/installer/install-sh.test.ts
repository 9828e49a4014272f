/**
 * installer/install.sh without a system to install on: shellcheck, the options, and the bundle
 * verification that runs before anything is touched.
 *
 * - shellcheck finds nothing in installer/*.sh (test/system-tools.sh installs shellcheck; a missing one fails).
 * - `install.sh verify` and `install.sh install --root R` refuse, with one `install.sh: ...` line on
 *   stderr and exit 1, a bundle whose file was changed after SHA256SUMS, one with a file that
 *   SHA256SUMS does not list, a symlink, a path leaving the bundle, a SHA256SUMS re-made after a
 *   change (with --pubkey: the signature no longer matches), a bundle signed by another key, a
 *   missing signature, and --pubkey without openssl (fail closed). In install mode R stays empty
 *   and no system path is created (the check runs first).
 * - a bundle made by appliance/release-bundle.mjs (the real `npm run bundle`) passes `verify
 *   --pubkey` with the public key it writes next to the tarball: the two agree on the format.
 */
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  hasCommand,
  installer,
  isRoot,
  listTree,
  makeBundle,
  ROOT,
  run,
  sealBundle,
  signingKey,
  type Run,
  type SigningKey,
} from "./fixture.js";
import { tempDir } from "../helpers.js";

const VERSION = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;

let work: string;
let key: SigningKey;
let otherKey: SigningKey;
let standIn: string;

/** A stand-in for bin/vecto: these tests never get past verification, so it only has to exist. */
function writeStandIn(dir: string): string {
  const file = join(dir, "vecto-stand-in");
  writeFileSync(
    file,
    `#!/bin/sh\nif [ "$1 \${2-}" = "version --json" ]; then echo '{"version":"${VERSION}","node":"${process.versions.node}"}'; else echo "vecto ${VERSION} (stand-in)"; fi\n`,
  );
  chmodSync(file, 0o755);
  return file;
}

let counter = 0;
function bundle(signed: SigningKey | null = key): string {
  counter += 1;
  return makeBundle(join(work, `bundle-${counter}`), {
    binary: standIn,
    version: VERSION,
    key: signed === null ? undefined : signed.privateKey,
  });
}

/** Exit 1 and exactly one line on stderr, starting with "install.sh: " and matching `message`. */
function expectRefused(result: Run, message: RegExp): void {
  const lines = result.stderr.trimEnd().split("\n");
  expect(result.status, result.stderr).toBe(1);
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^install\.sh: /);
  expect(lines[0]).toMatch(message);
}

/** The cases every refused bundle goes through: `verify`, and (as root) `install --root` into an empty dir. */
function expectBundleRefused(dir: string, args: string[], message: RegExp): void {
  expectRefused(installer(dir, ["verify", ...args]), message);
  if (!isRoot) return;
  const target = join(work, `root-${counter}`);
  mkdirSync(target);
  const runBefore = existsSync("/run") ? readdirSync("/run").filter((n) => n.startsWith("vecto-install.")) : [];
  expectRefused(installer(dir, ["install", "--root", target, ...args]), message);
  expect(listTree(target), "nothing may be created before the bundle is verified").toEqual([]);
  expect(readdirSync("/run").filter((n) => n.startsWith("vecto-install."))).toEqual(runBefore);
}

describe("installer/install.sh", () => {
  beforeAll(() => {
    work = tempDir("vecto-install-sh-").path;
    key = signingKey(work, "release");
    otherKey = signingKey(work, "other");
    standIn = writeStandIn(work);
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it("is shellcheck-clean", () => {
    // test/system-tools.sh (run by npm test) installs shellcheck when it is missing: never skip silently.
    if (!hasCommand("shellcheck"))
      throw new Error("shellcheck is not installed (apt-get install shellcheck; npm test does it)");
    const scripts = readdirSync(join(ROOT, "installer"))
      .filter((n) => n.endsWith(".sh"))
      .map((n) => join("installer", n));
    expect(scripts).toContain("installer/install.sh");
    const result = run("shellcheck", ["--shell=sh", "--severity=style", ...scripts]);
    expect(`${result.stdout}${result.stderr}`).toBe("");
    expect(result.status).toBe(0);
  });

  it("accepts an intact bundle, with and without its signature checked", () => {
    const dir = bundle();
    const signed = installer(dir, ["verify", "--pubkey", key.publicKeyFile]);
    expect(signed.status, signed.stderr).toBe(0);
    expect(signed.stdout).toContain(`SHA256SUMS is signed by ${key.publicKeyFile}`);
    expect(signed.stdout).toContain(`vecto ${VERSION}, every file matches SHA256SUMS`);
    const unsigned = installer(dir, ["verify"]);
    expect(unsigned.status, unsigned.stderr).toBe(0);
    expect(unsigned.stdout).toContain("NOT checked (no --pubkey)");
  });

  it("refuses a file changed after SHA256SUMS was made", () => {
    const dir = bundle();
    writeFileSync(
      join(dir, "systemd", "vecto.service"),
      readFileSync(join(dir, "systemd", "vecto.service"), "utf8").replace("NoNewPrivileges=yes", "NoNewPrivileges=no"),
    );
    expectBundleRefused(
      dir,
      [],
      /^install\.sh: bundle verification failed: systemd\/vecto\.service: FAILED; nothing was changed$/,
    );
  });

  it("refuses a changed binary", () => {
    const dir = bundle();
    writeFileSync(join(dir, "bin", "vecto"), "#!/bin/sh\necho owned\n");
    expectBundleRefused(dir, ["--pubkey", key.publicKeyFile], /bin\/vecto: FAILED/);
  });

  it("refuses a file that SHA256SUMS does not list (it would be installed unchecked)", () => {
    const dir = bundle();
    writeFileSync(join(dir, "systemd", "vecto.service.d", "zz-open.conf"), "[Service]\nProtectSystem=no\n");
    expectBundleRefused(dir, [], /systemd\/vecto\.service\.d\/zz-open\.conf is in the bundle but not in SHA256SUMS/);
  });

  it("refuses a symlink in the bundle", () => {
    const dir = bundle();
    symlinkSync("/etc/shadow", join(dir, "docs", "shadow.md"));
    expectBundleRefused(dir, [], /docs\/shadow\.md in the bundle is not a regular file/);
  });

  it("refuses a SHA256SUMS that names a path outside the bundle", () => {
    const dir = bundle();
    writeFileSync(
      join(dir, "SHA256SUMS"),
      `${readFileSync(join(dir, "SHA256SUMS"), "utf8")}${"0".repeat(64)}  ../outside\n`,
    );
    expectBundleRefused(dir, [], /SHA256SUMS names a path outside the bundle/);
  });

  it("refuses a bundle without SHA256SUMS", () => {
    const dir = bundle();
    rmSync(join(dir, "SHA256SUMS"));
    expectBundleRefused(dir, [], /SHA256SUMS is missing: not a Vecto bundle/);
  });

  it("with --pubkey: refuses checksums re-made after a change (the signature no longer matches)", () => {
    const dir = bundle();
    writeFileSync(join(dir, "bin", "vecto"), "#!/bin/sh\necho owned\n");
    const sig = readFileSync(join(dir, "SHA256SUMS.sig"));
    sealBundle(dir); // consistent checksums again, but SHA256SUMS changed under its signature
    writeFileSync(join(dir, "SHA256SUMS.sig"), sig);
    expect(installer(dir, ["verify"]).status, "without --pubkey the checksums alone pass: why --pubkey matters").toBe(
      0,
    );
    expectBundleRefused(
      dir,
      ["--pubkey", key.publicKeyFile],
      /signature check failed: SHA256SUMS\.sig does not verify with /,
    );
  });

  it("with --pubkey: refuses a bundle signed by another key", () => {
    expectBundleRefused(bundle(otherKey), ["--pubkey", key.publicKeyFile], /signature check failed/);
  });

  it("with --pubkey: refuses a bundle without a signature, and a key that is not Ed25519", () => {
    expectBundleRefused(bundle(null), ["--pubkey", key.publicKeyFile], /SHA256SUMS\.sig is missing/);
    const notAKey = join(work, "not-a-key.pem");
    writeFileSync(notAKey, "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n");
    expectBundleRefused(bundle(), ["--pubkey", notAKey], /is not an Ed25519 public key/);
  });

  it("with --pubkey and no openssl: fails closed", () => {
    // A PATH with the tools the script needs, minus openssl.
    const bin = join(work, "path-without-openssl");
    mkdirSync(bin);
    for (const tool of [
      "sh",
      "sha256sum",
      "mktemp",
      "id",
      "dirname",
      "sed",
      "grep",
      "wc",
      "find",
      "awk",
      "cat",
      "base64",
      "cmp",
      "stat",
      "rm",
      "mkdir",
      "chmod",
      "chown",
      "cp",
      "mv",
      "head",
      "tail",
      "sort",
      "tr",
      "cut",
      "getent",
      "useradd",
      "groupadd",
      "chroot",
      "ln",
      "date",
      "sleep",
      "env",
      "uname",
      "hostname",
    ]) {
      const found = run("sh", ["-c", `command -v ${tool}`]).stdout.trim();
      if (found.startsWith("/")) symlinkSync(found, join(bin, tool));
    }
    const env = { ...process.env, PATH: bin };
    const dir = bundle();
    expectRefused(
      installer(dir, ["verify", "--pubkey", key.publicKeyFile], env),
      /openssl is not installed: cannot check the signature with --pubkey, refusing to install unverified/,
    );
    if (isRoot) {
      const target = join(work, "root-no-openssl");
      mkdirSync(target);
      expectRefused(
        installer(dir, ["install", "--root", target, "--pubkey", key.publicKeyFile], env),
        /openssl is not installed/,
      );
      expect(listTree(target)).toEqual([]);
    }
  });

  it("rejects wrong options with one line", () => {
    const dir = bundle();
    expectRefused(installer(dir, ["install", "--frobnicate"]), /unknown option --frobnicate/);
    expectRefused(installer(dir, ["install", "--tls-cert", "/x.pem"]), /--tls-cert and --tls-key go together/);
    expectRefused(
      installer(dir, ["install", "--pkcs11-lib", "/x.so"]),
      /--pkcs11-lib, --pkcs11-token, --pkcs11-pin-file and --pkcs11-key-label go together/,
    );
    expectRefused(installer(dir, ["install", "--listen", "8443"]), /--listen expects HOST:PORT/);
    expectRefused(installer(dir, ["install", "--listen", "0.0.0.0:99999"]), /port 99999 is above 65535/);
    expectRefused(installer(dir, ["upgrade", "--listen", "0.0.0.0:8443"]), /upgrade keeps the configuration/);
    expectRefused(installer(dir, ["install", "--purge"]), /--purge and --yes are uninstall options/);
    expectRefused(installer(dir, ["status", "--pubkey", key.publicKeyFile]), /status takes only --root/);
    const help = installer(dir, ["--help"]);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^Usage: install\.sh \[install\]/);
  });

  it("verifies a bundle made by appliance/release-bundle.mjs with the public key it publishes", () => {
    const out = join(work, "release");
    const made = run(
      process.execPath,
      [join(ROOT, "appliance", "release-bundle.mjs"), "--binary", standIn, "--out-dir", out, "--no-build", "--quiet"],
      { env: { ...process.env, SOURCE_DATE_EPOCH: "1700000000", VECTO_RELEASE_SIGNING_KEY: "" } },
    );
    expect(made.status, made.stderr).toBe(0);
    const tarball = readdirSync(out).find((n) => n.endsWith("-linux-x64.tar.gz"));
    const pub = readdirSync(out).find((n) => n.endsWith("-signing-key.pub.pem"));
    expect(tarball && pub).toBeTruthy();
    expect(run("tar", ["-xzf", join(out, tarball as string), "-C", out]).status).toBe(0);
    const dir = join(out, `vecto-${VERSION}`);
    const ok = installer(dir, ["verify", "--pubkey", join(out, pub as string)]);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toContain("every file matches SHA256SUMS");
    writeFileSync(join(dir, "config", "vecto.env.example"), "VECTO_AIRGAPPED=false\n");
    expectRefused(
      installer(dir, ["verify", "--pubkey", join(out, pub as string)]),
      /config\/vecto\.env\.example: FAILED/,
    );
  });
});
