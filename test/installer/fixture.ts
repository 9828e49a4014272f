/**
 * Shared by the installer tests: offline bundles laid out like appliance/release-bundle.mjs makes
 * them (unpacked), a minimal root directory the single binary runs in (for `install.sh --root`),
 * and running installer/install.sh with /bin/sh (dash on Debian: POSIX sh, no bash).
 */
import { spawnSync } from "node:child_process";
import { createHash, generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, relative } from "node:path";
import { ROOT, tempDir } from "../helpers.js";

export { ROOT };
export const INSTALLER = join(ROOT, "installer", "install.sh");

export interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function run(
  cmd: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeout?: number } = {},
): Run {
  const r = spawnSync(cmd, args, {
    cwd: options.cwd ?? ROOT,
    env: options.env ?? process.env,
    encoding: "utf8",
    timeout: options.timeout ?? 120_000,
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function hasCommand(name: string): boolean {
  return run("sh", ["-c", `command -v ${name}`]).status === 0;
}

export const isRoot = typeof process.getuid === "function" && process.getuid() === 0;

export interface SigningKey {
  readonly privateKey: KeyObject;
  /** The public key as a PEM (SPKI) file, what `install.sh --pubkey` takes. */
  readonly publicKeyFile: string;
}

export function signingKey(dir: string, name = "release"): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const publicKeyFile = join(dir, `${name}.pub.pem`);
  writeFileSync(publicKeyFile, publicKey.export({ type: "spki", format: "pem" }));
  return { privateKey, publicKeyFile };
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)));
}

function sha256(file: string): string {
  return createHash("sha256").update(readFileSync(file)).digest("hex");
}

/** (Re)writes SHA256SUMS over every file but itself and its signature, and signs it when given a key. */
export function sealBundle(dir: string, key?: KeyObject): void {
  const files = filesUnder(dir)
    .filter((f) => f !== "SHA256SUMS" && f !== "SHA256SUMS.sig")
    .sort();
  const sums = Buffer.from(files.map((f) => `${sha256(join(dir, f))}  ${f}\n`).join(""));
  writeFileSync(join(dir, "SHA256SUMS"), sums);
  rmSync(join(dir, "SHA256SUMS.sig"), { force: true });
  if (key) writeFileSync(join(dir, "SHA256SUMS.sig"), `${sign(null, sums, key).toString("base64")}\n`);
}

/**
 * An unpacked bundle: bin/vecto, systemd/, installer/, docs/, config/vecto.env.example, VERSION,
 * SHA256SUMS and (with a key) SHA256SUMS.sig, from this repository's files.
 */
export function makeBundle(dir: string, options: { binary: string; version: string; key?: KeyObject }): string {
  mkdirSync(join(dir, "bin"), { recursive: true });
  copyFileSync(options.binary, join(dir, "bin", "vecto"));
  chmodSync(join(dir, "bin", "vecto"), 0o755);
  for (const tree of ["systemd", "installer"]) cpSync(join(ROOT, tree), join(dir, tree), { recursive: true });
  mkdirSync(join(dir, "docs"));
  for (const name of readdirSync(join(ROOT, "docs")))
    if (name.endsWith(".md")) copyFileSync(join(ROOT, "docs", name), join(dir, "docs", name));
  mkdirSync(join(dir, "config"));
  copyFileSync(join(ROOT, "config", "vecto.env.example"), join(dir, "config", "vecto.env.example"));
  writeFileSync(join(dir, "VERSION"), `${options.version}\n`);
  sealBundle(dir, options.key);
  return dir;
}

/** Runs a bundle's installer the way an operator does: `sh installer/install.sh ARGS`. */
export function installer(bundle: string, args: string[], env: NodeJS.ProcessEnv = process.env): Run {
  return run("/bin/sh", [join(bundle, "installer", "install.sh"), ...args], { cwd: bundle, env, timeout: 180_000 });
}

/** Shared libraries a dynamically linked program needs (ldd), with the loader. */
function sharedLibraries(program: string): string[] {
  const r = run("ldd", [program]);
  if (r.status !== 0) throw new Error(`ldd ${program} failed: ${r.stderr}`);
  return [...r.stdout.matchAll(/(\/\S+)/g)].map((m) => m[1] as string);
}

/**
 * A root directory that `chroot` can run the single binary in: its shared libraries, /bin/sh (for
 * stand-in broken builds), /etc/passwd and /etc/group with root only, /run and /tmp. No systemd.
 */
export function minimalRoot(dir: string, binary: string): string {
  for (const d of ["etc", "run", "tmp", "bin"]) mkdirSync(join(dir, d), { recursive: true });
  chmodSync(join(dir, "tmp"), 0o1777);
  writeFileSync(join(dir, "etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\n");
  writeFileSync(join(dir, "etc", "group"), "root:x:0:\n");
  const shell = "/bin/sh";
  for (const lib of new Set([...sharedLibraries(binary), ...sharedLibraries(shell)])) {
    mkdirSync(join(dir, dirname(lib)), { recursive: true });
    if (!existsSync(join(dir, lib))) copyFileSync(lib, join(dir, lib));
  }
  copyFileSync(shell, join(dir, "bin", "sh"));
  chmodSync(join(dir, "bin", "sh"), 0o755);
  return dir;
}

/**
 * Mode, owner, size, mtime and path of everything the installer manages below a root (libraries
 * and the test's own files left out), to prove a second run changes nothing.
 */
export function manifest(root: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    const st = statSync(join(root, rel), { throwIfNoEntry: false });
    if (!st) return;
    out.push(
      `${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid} ${st.isDirectory() ? "-" : st.size} ${st.mtimeMs} ${rel}`,
    );
    if (st.isDirectory()) for (const name of readdirSync(join(root, rel)).sort()) walk(join(rel, name));
  };
  for (const top of [
    "opt/vecto",
    "etc/vecto",
    "etc/systemd",
    "var/lib/vecto",
    "var/cache/vecto",
    "etc/passwd",
    "etc/group",
  ])
    walk(top);
  return out;
}

/** Everything below dir, relative: for "nothing was created" checks. */
export function listTree(dir: string): string[] {
  return readdirSync(dir, { recursive: true }).map(String).sort();
}

let cachedBinary: string | undefined;

/**
 * The single binary under test, copied to a private temp file (dist/vecto may be rebuilt by a
 * parallel test while this one runs): VECTO_E2E_BINARY, else dist/vecto, built when missing.
 */
export function applianceBinary(): string {
  if (cachedBinary) return cachedBinary;
  const source = process.env.VECTO_E2E_BINARY ?? join(ROOT, "dist", "vecto");
  const copy = join(tempDir("vecto-installer-bin-").path, "vecto");
  for (let attempt = 1; ; attempt++) {
    if (!existsSync(source)) {
      const b = run(process.execPath, [join(ROOT, "appliance", "build-sea.mjs")], { timeout: 300_000 });
      if (b.status !== 0) throw new Error(`build-sea failed: ${b.stderr}`);
    }
    copyFileSync(source, copy);
    chmodSync(copy, 0o755);
    // A copy taken while another test rebuilds the file does not run: take it again.
    if (run(copy, ["version"], { env: { PATH: "/usr/bin:/bin", VECTO_ENV_FILE: "/dev/null" } }).status === 0) break;
    if (attempt === 10) throw new Error(`${source} does not run (vecto version failed 10 times)`);
    spawnSync("sleep", ["6"]);
  }
  cachedBinary = copy;
  return copy;
}

/** Removes the private copy applianceBinary() made. */
export function removeApplianceBinary(): void {
  if (cachedBinary) rmSync(dirname(cachedBinary), { recursive: true, force: true });
  cachedBinary = undefined;
}
