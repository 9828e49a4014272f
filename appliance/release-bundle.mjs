#!/usr/bin/env node
// The offline install bundle: dist/vecto-<version>-linux-x64.tar.gz (docs/appliance-build.md, "Offline bundle").
//
//   npm run bundle                                   build dist/vecto if missing or older than the sources, then bundle it
//   node appliance/release-bundle.mjs --binary PATH  bundle another file as bin/vecto (tests: a stand-in; never shipped)
//        [--out-dir DIR] [--no-build] [--allow-missing]
//   npm run bundle -- --vendor-keys FILE             a release: always (re)builds dist/vecto with the vendor's license
//                                                    keys compiled in (appliance/bundle.mjs) and checks the binary reports them
//
// One top directory vecto-<version>/ with bin/vecto, systemd/, installer/, docs/, config/vecto.env.example,
// sbom.cdx.json, LICENSE/NOTICE when present, VERSION, SHA256SUMS (every other file) and SHA256SUMS.sig:
// base64 of the raw 64-byte Ed25519 signature over SHA256SUMS. The public key is NOT in the bundle
// (a bundle cannot vouch for itself): it is written next to the tarball, to be published separately.
//
// Signing key: VECTO_RELEASE_SIGNING_KEY, a PKCS#8 PEM Ed25519 private key file with no group/other
// access. Without it an ephemeral key is generated in the output directory and the build is loudly
// marked unofficial.
//
// The tar is reproducible for the same inputs and key: sorted entries, mtime SOURCE_DATE_EPOCH (else
// the last commit's time), uid/gid 0, explicit modes; gzip has no timestamp.
import { execFileSync } from "node:child_process";
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify } from "node:crypto";
import {
  chmodSync,
  closeSync,
  createReadStream,
  createWriteStream,
  existsSync,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { pipeline } from "node:stream/promises";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createGzip } from "node:zlib";
import tar from "tar-stream";
import { generateSbom } from "./sbom.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const PLATFORM = "linux-x64";
/** Copied as they are in the repository. */
const TREES = ["systemd", "installer"];
/** What a bundle without them would not install: refused unless --allow-missing. */
const REQUIRED_FILES = ["systemd/vecto.service", "installer/install.sh"];
/** Sources whose change makes dist/vecto stale. */
const BUILD_INPUTS = ["src", "appliance", "package.json", "package-lock.json", "types"];

function sha256(data) {
  return createHash("sha256").update(data).digest("hex");
}

function sha256File(file) {
  return new Promise((ok, fail) => {
    const hash = createHash("sha256");
    createReadStream(file)
      .on("data", (chunk) => hash.update(chunk))
      .on("error", fail)
      .on("end", () => ok(hash.digest("hex")));
  });
}

/** Paths in messages: relative inside the repository, absolute elsewhere. */
function shown(path) {
  const rel = relative(ROOT, path);
  return rel.startsWith("..") ? path : rel;
}

function mib(n) {
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** Files and directories under dir (recursively), sorted, relative to dir; symlinks and specials refused. */
function walk(dir, prefix = "", out = { files: [], dirs: [] }) {
  for (const name of readdirSync(join(dir, prefix)).sort()) {
    const rel = prefix === "" ? name : `${prefix}/${name}`;
    const st = lstatSync(join(dir, rel));
    if (st.isDirectory()) {
      out.dirs.push(rel);
      walk(dir, rel, out);
    } else if (st.isFile()) out.files.push(rel);
    else throw new Error(`${join(dir, rel)}: not a regular file or directory; refusing to bundle it`);
  }
  return out;
}

function newestMtime(path) {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  return readdirSync(path).reduce((max, name) => Math.max(max, newestMtime(join(path, name))), st.mtimeMs);
}

/** SOURCE_DATE_EPOCH, else the last commit's time, else 0: the mtime of every entry. */
function sourceDate() {
  const env = process.env.SOURCE_DATE_EPOCH;
  if (env !== undefined && env !== "") {
    if (!/^\d+$/.test(env)) throw new Error(`SOURCE_DATE_EPOCH must be whole seconds since 1970 (got "${env}")`);
    return new Date(Number(env) * 1000);
  }
  try {
    const out = execFileSync("git", ["log", "-1", "--format=%ct"], {
      cwd: ROOT,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
    if (/^\d+$/.test(out)) return new Date(Number(out) * 1000);
  } catch {
    // not a git checkout: fall through
  }
  return new Date(0);
}

/**
 * The release signing key: VECTO_RELEASE_SIGNING_KEY (PKCS#8 PEM, Ed25519, no group/other access),
 * or an ephemeral one written 0600 to outDir. Returns { privateKey, publicKey, ephemeral, source }.
 */
export function signingKey(outDir, version, env = process.env) {
  const file = env.VECTO_RELEASE_SIGNING_KEY;
  if (file !== undefined && file !== "") {
    let fd;
    try {
      fd = openSync(file, "r");
    } catch (err) {
      throw new Error(`VECTO_RELEASE_SIGNING_KEY: cannot open ${file} (${err.code ?? err.message})`);
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) throw new Error(`VECTO_RELEASE_SIGNING_KEY: ${file} is not a regular file`);
      if ((st.mode & 0o077) !== 0) {
        throw new Error(
          `VECTO_RELEASE_SIGNING_KEY: ${file} has mode ${(st.mode & 0o777).toString(8).padStart(4, "0")}; it must be 0600 (no group/other access): chmod 600 ${file}`,
        );
      }
      let privateKey;
      try {
        privateKey = createPrivateKey({ key: readFileSync(fd), format: "pem" });
      } catch {
        throw new Error(
          `VECTO_RELEASE_SIGNING_KEY: ${file} is not a PEM private key (expected an Ed25519 key in PKCS#8 PEM, as "openssl genpkey -algorithm ed25519" writes)`,
        );
      }
      if (privateKey.asymmetricKeyType !== "ed25519")
        throw new Error(
          `VECTO_RELEASE_SIGNING_KEY: ${file} is a ${privateKey.asymmetricKeyType} key; an Ed25519 key is required`,
        );
      return { privateKey, publicKey: createPublicKey(privateKey), ephemeral: false, source: file };
    } finally {
      closeSync(fd);
    }
  }
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const keyFile = join(outDir, `vecto-${version}-ephemeral-signing-key.pem`);
  rmSync(keyFile, { force: true });
  writeFileSync(keyFile, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600, flag: "wx" });
  chmodSync(keyFile, 0o600);
  return { privateKey, publicKey, ephemeral: true, source: keyFile };
}

/** A short, comparable name for a public key: sha256 of its raw 32 bytes. */
export function keyFingerprint(publicKey) {
  const raw = publicKey.export({ format: "der", type: "spki" }).subarray(-32);
  return `SHA256:${createHash("sha256").update(raw).digest("base64").replace(/=+$/, "")}`;
}

/** The binary must run here and report the version package.json has (a stale build would not). */
function probeBinary(binary, version) {
  let out;
  try {
    out = execFileSync(binary, ["version", "--json"], {
      encoding: "utf8",
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", VECTO_ENV_FILE: "/dev/null" },
      timeout: 60_000,
      stdio: ["ignore", "pipe", "pipe"],
    });
  } catch (err) {
    throw new Error(`${binary} version --json failed: ${(err.stderr ?? err.message).toString().split("\n")[0]}`);
  }
  const info = JSON.parse(out);
  if (info.version !== version)
    throw new Error(
      `${binary} is vecto ${info.version}, package.json says ${version}: rebuild it (npm run build:appliance)`,
    );
  return info;
}

/**
 * Layout of the bundle: archive path (below the top directory) -> { content, mode } for files,
 * { dir: true } for directories (empty ones included: trees are copied as they are). Each file is
 * read once, here: what is hashed is what is packed, even if the tree changes meanwhile.
 */
function layout({ binary, version, allowMissing, warn }) {
  const entries = new Map();
  const addTree = (dir, accept = () => true) => {
    const abs = join(ROOT, dir);
    if (!existsSync(abs)) return;
    const { files, dirs } = walk(abs);
    entries.set(dir, { dir: true });
    for (const rel of dirs) entries.set(`${dir}/${rel}`, { dir: true });
    for (const rel of files.filter(accept)) {
      const file = join(abs, rel);
      const executable = (statSync(file).mode & 0o111) !== 0 || rel.endsWith(".sh");
      entries.set(`${dir}/${rel}`, { content: readFileSync(file), mode: executable ? 0o755 : 0o644 });
    }
  };

  entries.set("bin/vecto", { content: readFileSync(binary), mode: 0o755 });
  for (const dir of TREES) addTree(dir);
  for (const required of REQUIRED_FILES) {
    if (entries.has(required)) continue;
    if (!allowMissing)
      throw new Error(`${required} is missing: the bundle would not install (--allow-missing to bundle anyway)`);
    warn(`${required} is missing: this bundle is incomplete`);
  }
  for (const name of readdirSync(join(ROOT, "docs")).sort()) {
    if (name.endsWith(".md") && statSync(join(ROOT, "docs", name)).isFile())
      entries.set(`docs/${name}`, { content: readFileSync(join(ROOT, "docs", name)), mode: 0o644 });
  }
  addTree("docs/adr");
  entries.set("config/vecto.env.example", {
    content: readFileSync(join(ROOT, "config", "vecto.env.example")),
    mode: 0o644,
  });
  for (const name of readdirSync(ROOT).sort()) {
    if (/^(LICEN[CS]E|NOTICE)(\.(md|txt))?$/.test(name) && statSync(join(ROOT, name)).isFile())
      entries.set(name, { content: readFileSync(join(ROOT, name)), mode: 0o644 });
  }
  entries.set("VERSION", { content: Buffer.from(`${version}\n`), mode: 0o644 });
  return entries;
}

/** `sha256sum` format (two spaces, relative paths), sorted by path. */
function checksums(entries) {
  const lines = [];
  for (const path of [...entries.keys()].sort()) {
    const e = entries.get(path);
    if (e.dir) continue;
    lines.push(`${sha256(e.content)}  ${path}`);
  }
  return Buffer.from(`${lines.join("\n")}\n`);
}

async function writeTarball({ entries, top, mtime, out }) {
  const pack = tar.pack();
  const header = (name, extra) => ({
    name: `${top}/${name}`,
    mtime,
    uid: 0,
    gid: 0,
    uname: "root",
    gname: "root",
    ...extra,
  });
  const tmp = `${out}.partial`;
  rmSync(tmp, { force: true });
  const writing = pipeline(pack, createGzip({ level: 9 }), createWriteStream(tmp, { mode: 0o644 }));
  // Every directory on the way to each entry, so the archive carries their modes too.
  const all = new Map(entries);
  all.set("", { dir: true });
  for (const path of entries.keys())
    for (let d = dirname(path); d !== "."; d = dirname(d)) if (!all.has(d)) all.set(d, { dir: true });
  // Sorted by path: each directory comes before its contents.
  for (const name of [...all.keys()].sort()) {
    const e = all.get(name);
    if (e.dir) {
      await new Promise((ok, fail) =>
        pack.entry(header(name === "" ? "" : `${name}/`, { type: "directory", mode: 0o755 }), (err) =>
          err ? fail(err) : ok(),
        ),
      );
    } else {
      await new Promise((ok, fail) =>
        pack.entry(header(name, { type: "file", mode: e.mode, size: e.content.length }), e.content, (err) =>
          err ? fail(err) : ok(),
        ),
      );
    }
  }
  pack.finalize();
  await writing;
  renameSync(tmp, out);
}

/**
 * @param {{ binary?: string, outDir?: string, build?: boolean, vendorKeys?: string, allowMissing?: boolean, quiet?: boolean, env?: Record<string, string|undefined> }} [opts]
 */
export async function releaseBundle(opts = {}) {
  const t0 = Date.now();
  const log = opts.quiet ? () => {} : (m) => console.log(`bundle: ${m}`);
  const warn = (m) => console.warn(`bundle: WARNING: ${m}`);
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
  const version = pkg.version;
  const outDir = resolve(ROOT, opts.outDir ?? "dist");
  mkdirSync(outDir, { recursive: true });
  // First, so that a bad key fails before a build.
  const key = signingKey(outDir, version, opts.env ?? process.env);
  // The license keys the binary is to trust (a build input), and the development default it must not ship with.
  if (opts.vendorKeys && (opts.binary || opts.build === false))
    throw new Error("--vendor-keys builds dist/vecto: it does not go with --binary or --no-build");
  const { loadVendorKeys } = await import("./bundle.mjs");
  const wantedKids = opts.vendorKeys ? (await loadVendorKeys(opts.vendorKeys)).ids : undefined;
  const defaultKids = (await loadVendorKeys()).ids;

  let binary;
  if (opts.binary) {
    binary = resolve(opts.binary);
    if (!existsSync(binary)) throw new Error(`--binary ${binary} does not exist`);
    warn(`bin/vecto is ${shown(binary)}, given with --binary: not a release unless it is the single binary`);
  } else {
    binary = join(ROOT, "dist", "vecto");
    const stale = existsSync(binary) && BUILD_INPUTS.some((p) => newestMtime(join(ROOT, p)) > statSync(binary).mtimeMs);
    if (wantedKids) {
      log(
        `building ${shown(binary)} with the vendor keys of ${opts.vendorKeys} (npm run build:appliance -- --vendor-keys)`,
      );
      const { buildSea } = await import("./build-sea.mjs");
      await buildSea({ quiet: opts.quiet, vendorKeys: opts.vendorKeys });
    } else if (!existsSync(binary) || stale) {
      if (opts.build === false)
        throw new Error(
          `${shown(binary)} is ${stale ? "older than its sources" : "missing"}; run npm run build:appliance (or drop --no-build)`,
        );
      log(`${shown(binary)} is ${stale ? "older than its sources" : "missing"}: building it (npm run build:appliance)`);
      const { buildSea } = await import("./build-sea.mjs");
      await buildSea({ quiet: opts.quiet });
    }
  }
  const info = probeBinary(binary, version);
  log(`binary ${shown(binary)}: vecto ${info.version}, node ${info.node}, ${mib(statSync(binary).size)}`);
  const kids = Array.isArray(info.vendorKeyIds) ? info.vendorKeyIds : [];
  log(`binary trusts vendor license keys: ${kids.join(", ") || "(none reported)"}`);
  if (wantedKids && kids.join(",") !== wantedKids.join(","))
    throw new Error(
      `${shown(binary)} trusts vendor keys ${kids.join(", ")}, not ${wantedKids.join(", ")} from ${opts.vendorKeys}`,
    );
  if (kids.length > 0 && kids.every((kid) => defaultKids.includes(kid))) {
    warn(
      `bin/vecto trusts only the development vendor key (${kids.join(", ")}): no license can be valid on it; build with --vendor-keys FILE`,
    );
  }

  const entries = layout({ binary, version, allowMissing: Boolean(opts.allowMissing), warn });
  const mtime = sourceDate();
  // The binary's node is the one that built it (build-sea copies process.execPath): its versions.
  const nodeVersions = info.node === process.versions.node ? process.versions : { node: info.node };
  const sbom = generateSbom({ root: ROOT, timestamp: mtime, nodeVersions });
  entries.set("sbom.cdx.json", { content: Buffer.from(`${JSON.stringify(sbom, null, 2)}\n`), mode: 0o644 });

  const sums = checksums(entries);
  const signature = sign(null, sums, key.privateKey);
  if (!verify(null, sums, key.publicKey, signature))
    throw new Error("the signature does not verify with its own public key");
  entries.set("SHA256SUMS", { content: sums, mode: 0o644 });
  entries.set("SHA256SUMS.sig", { content: Buffer.from(`${signature.toString("base64")}\n`), mode: 0o644 });

  const top = `vecto-${version}`;
  const tarball = join(outDir, `${top}-${PLATFORM}.tar.gz`);
  await writeTarball({ entries, top, mtime, out: tarball });
  const publicKeyFile = join(outDir, `vecto-${version}-signing-key.pub.pem`);
  writeFileSync(publicKeyFile, key.publicKey.export({ type: "spki", format: "pem" }), { mode: 0o644 });

  const files = [...entries.keys()].filter((p) => !entries.get(p).dir).sort();
  const size = statSync(tarball).size;
  const seconds = (Date.now() - t0) / 1000;
  if (key.ephemeral) {
    warn("=====================================================================");
    warn("unofficial build: signed with an ephemeral key, not the release key");
    warn(`(set VECTO_RELEASE_SIGNING_KEY; the throwaway key is ${shown(key.source)})`);
    warn("=====================================================================");
  }
  log(
    `${shown(tarball)}: ${mib(size)} (${size} bytes), ${files.length} files, sha256 ${await sha256File(tarball)}, ${seconds.toFixed(1)} s`,
  );
  log(
    `publish the public key separately: ${shown(publicKeyFile)} (${keyFingerprint(key.publicKey)}); it is not in the bundle`,
  );
  return { tarball, publicKeyFile, size, seconds, ephemeral: key.ephemeral, files, top };
}

function parseArgs(argv) {
  const opts = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--binary" && argv[i + 1]) opts.binary = argv[++i];
    else if (a === "--out-dir" && argv[i + 1]) opts.outDir = argv[++i];
    else if (a === "--no-build") opts.build = false;
    else if (a === "--vendor-keys" && argv[i + 1]) opts.vendorKeys = argv[++i];
    else if (a === "--allow-missing") opts.allowMissing = true;
    else if (a === "--quiet") opts.quiet = true;
    else
      throw new Error(
        `unknown argument ${a} (use --binary PATH, --out-dir DIR, --no-build, --vendor-keys FILE, --allow-missing, --quiet)`,
      );
  }
  return opts;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  try {
    await releaseBundle(parseArgs(process.argv.slice(2)));
  } catch (err) {
    console.error(`bundle: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}
