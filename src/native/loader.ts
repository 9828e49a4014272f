/**
 * Run-time loader for the native addons shipped inside the single binary (Node SEA).
 *
 * The binary carries each addon as a SEA asset plus a manifest with its sha256. On first use an
 * addon is extracted to `<cacheDir>/native/<sha256 prefix>/<name>.node` (directories 0700, file
 * 0500, written to a temporary name and renamed), the bytes ON DISK are hashed and compared with
 * the manifest, and only then handed to `process.dlopen`. Never /tmp: a world-writable directory
 * invites a local user to pre-plant or swap a library that we would then load into a process that
 * holds the master key. See docs/appliance-build.md.
 *
 * Outside the binary none of this runs: the addons load from node_modules as usual.
 */
import { createHash, randomBytes } from "node:crypto";
import {
  chmodSync,
  closeSync,
  constants as fsConstants,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { constants as osConstants } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import * as sea from "node:sea";

/** Addons the binary knows about. The asset key is `native/<name>.node`. */
export type NativeAddonName = "better_sqlite3" | "argon2" | "pkcs11";

export const NATIVE_ADDON_NAMES: readonly NativeAddonName[] = ["better_sqlite3", "argon2", "pkcs11"];

/** Asset key of the manifest written by appliance/build-sea.mjs. */
export const MANIFEST_ASSET = "native/manifest.json";

interface ManifestEntry {
  asset: string;
  sha256: string;
  size: number;
}

interface Manifest {
  format: 1;
  node: string;
  modules: string;
  addons: Record<NativeAddonName, ManifestEntry>;
}

/** One clear line for the operator; thrown for every loader failure. */
export class NativeAddonError extends Error {
  override name = "NativeAddonError";
}

const DIR_MODE = 0o700;
const FILE_MODE = 0o500;
/** A hash-named addon directory once its file is verified: nothing more is written into it. */
const SEALED_DIR_MODE = 0o500;

let cacheDir: string | undefined;
let manifest: Manifest | undefined;
const loaded = new Map<NativeAddonName, object>();

/** True when running as the single binary. */
export function inSea(): boolean {
  try {
    return sea.isSea();
  } catch {
    return false;
  }
}

/**
 * Where the addons get extracted. Called by the CLI once config is loaded (systemd
 * CACHE_DIRECTORY, else VECTO_CACHE_DIR, else <dataDir>/cache). Harmless outside the binary.
 */
export function configureNativeAddons(opts: { cacheDir: string }): void {
  if (typeof opts.cacheDir !== "string" || opts.cacheDir.trim() === "") {
    throw new NativeAddonError("native addons: cacheDir must be a non-empty path");
  }
  const dir = resolve(opts.cacheDir);
  if (!isAbsolute(dir)) throw new NativeAddonError(`native addons: cacheDir is not absolute: ${opts.cacheDir}`);
  cacheDir = dir;
}

/** The directory addons are (or would be) extracted to; undefined before configureNativeAddons. */
export function nativeAddonDir(): string | undefined {
  return cacheDir === undefined ? undefined : join(cacheDir, "native");
}

function readManifest(): Manifest {
  if (manifest) return manifest;
  let text: string;
  try {
    text = sea.getAsset(MANIFEST_ASSET, "utf8");
  } catch {
    throw new NativeAddonError(`native addons: the binary has no ${MANIFEST_ASSET} asset (broken build)`);
  }
  const parsed = JSON.parse(text) as Manifest;
  if (parsed.format !== 1 || typeof parsed.addons !== "object") {
    throw new NativeAddonError(`native addons: unsupported manifest format in ${MANIFEST_ASSET}`);
  }
  if (parsed.modules !== process.versions.modules) {
    throw new NativeAddonError(
      `native addons: built for Node ABI ${parsed.modules} (${parsed.node}) but running ${process.versions.modules} (${process.version})`,
    );
  }
  for (const name of NATIVE_ADDON_NAMES) {
    const e = parsed.addons[name];
    if (!e || !/^[0-9a-f]{64}$/.test(e.sha256) || typeof e.asset !== "string") {
      throw new NativeAddonError(`native addons: manifest entry for ${name} is missing or malformed`);
    }
  }
  manifest = parsed;
  return parsed;
}

function sha256File(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/**
 * mkdir 0700 if absent; refuse a symlink or a directory owned by someone else; reset any other
 * mode to `mode` (0700, or 0500 for a sealed addon directory), so others can never write there.
 */
function ensurePrivateDir(dir: string, mode: number = DIR_MODE): void {
  try {
    mkdirSync(dir, { mode: DIR_MODE });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") {
      throw new NativeAddonError(`native addons: cannot create ${dir}: ${(err as Error).message}`);
    }
  }
  const st = lstatSync(dir);
  if (!st.isDirectory()) throw new NativeAddonError(`native addons: ${dir} is not a directory (symlinks are refused)`);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    throw new NativeAddonError(`native addons: ${dir} is owned by uid ${st.uid}, not by this process (uid ${uid})`);
  }
  if ((st.mode & 0o777) !== DIR_MODE && (st.mode & 0o777) !== mode) chmodSync(dir, mode);
}

function fileMatches(path: string, sha256: string): boolean {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return false;
  }
  if (!st.isFile()) return false;
  return sha256File(path) === sha256;
}

function extract(path: string, bytes: Uint8Array): void {
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
  const fd = openSync(
    tmp,
    fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW,
    0o600,
  );
  try {
    let off = 0;
    while (off < bytes.byteLength) off += writeSync(fd, bytes, off, bytes.byteLength - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    chmodSync(tmp, FILE_MODE);
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw err;
  }
}

/** Extract (if needed) and verify one addon; returns the verified path on disk. */
function materialize(name: NativeAddonName): string {
  if (cacheDir === undefined) {
    throw new NativeAddonError(
      `native addon ${name} requested before configureNativeAddons({ cacheDir }) was called (load config first)`,
    );
  }
  const entry = readManifest().addons[name];
  const root = join(cacheDir, "native");
  const dir = join(root, entry.sha256.slice(0, 16));
  const file = join(dir, `${name}.node`);
  try {
    mkdirSync(cacheDir, { recursive: true, mode: DIR_MODE });
    ensurePrivateDir(root);
    ensurePrivateDir(dir, SEALED_DIR_MODE);
    if (!fileMatches(file, entry.sha256)) {
      // Missing, partial, tampered or a planted symlink: unseal, extract once (rename replaces
      // whatever is there, atomically, so a concurrent start never sees a half-written file).
      chmodSync(dir, DIR_MODE);
      const raw = sea.getRawAsset(entry.asset);
      const bytes = typeof raw === "string" ? Buffer.from(raw) : new Uint8Array(raw);
      extract(file, bytes);
    }
    chmodSync(dir, SEALED_DIR_MODE);
  } catch (err) {
    if (err instanceof NativeAddonError) throw err;
    throw new NativeAddonError(`native addon ${name}: cannot extract to ${dir}: ${(err as Error).message}`);
  }
  if (!fileMatches(file, entry.sha256)) {
    throw new NativeAddonError(
      `native addon ${name}: ${file} does not match its sha256 after extraction; refusing to load it`,
    );
  }
  return file;
}

/**
 * The addon's exports, extracted from the binary and dlopen'ed once per process.
 * Only valid inside the SEA; the esbuild plugin routes argon2's and pkcs11js's addon requires here.
 */
export function loadNativeAddon(name: NativeAddonName): object {
  const hit = loaded.get(name);
  if (hit) return hit;
  if (!inSea()) {
    throw new NativeAddonError(`native addon ${name}: the SEA loader was called outside the single binary`);
  }
  const path = materialize(name);
  const mod: { exports: object } = { exports: {} };
  try {
    process.dlopen(mod, path, osConstants.dlopen.RTLD_NOW);
  } catch (err) {
    throw new NativeAddonError(`native addon ${name}: dlopen ${path} failed: ${(err as Error).message}`);
  }
  loaded.set(name, mod.exports);
  return mod.exports;
}
