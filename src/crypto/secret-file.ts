/**
 * Writing key files: a new file appears whole or not at all, is private (0600) from its first
 * byte, and never replaces an existing file. Losing a master key loses every tenant's data, so
 * "refuse to overwrite" must hold even against a file created between our check and our write.
 */
import { constants as fsc, promises as fsp } from "node:fs";
import { randomBytes } from "node:crypto";
import { basename, dirname, join } from "node:path";

export class FileExistsError extends Error {
  override readonly name = "FileExistsError";
}

const LINK_UNSUPPORTED = new Set(["EPERM", "ENOTSUP", "EOPNOTSUPP"]);

async function exists(path: string): Promise<boolean> {
  try {
    await fsp.lstat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
}

/** O_EXCL|O_NOFOLLOW: never writes through a file or link someone else prepared. */
async function writeTemp(tmp: string, content: string | Uint8Array, mode: number): Promise<void> {
  const handle = await fsp.open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, mode);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * link(2) fails with EEXIST where rename(2) would silently clobber; filesystems without hard
 * links fall back to check-then-rename.
 */
async function publishNoClobber(tmp: string, path: string): Promise<void> {
  try {
    await fsp.link(tmp, path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "";
    if (code === "EEXIST") throw new FileExistsError(`${path} already exists; refusing to overwrite it`);
    if (!LINK_UNSUPPORTED.has(code)) throw err;
    if (await exists(path)) throw new FileExistsError(`${path} already exists; refusing to overwrite it`);
    await fsp.rename(tmp, path);
  }
}

async function syncDir(dir: string): Promise<void> {
  const handle = await fsp.open(dir, fsc.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Creates `path` with `content` and `mode` (default 0600); throws FileExistsError if it exists. The directory must
 * exist.
 */
export async function writeNewFile(path: string, content: string | Uint8Array, mode = 0o600): Promise<void> {
  if (await exists(path)) throw new FileExistsError(`${path} already exists; refusing to overwrite it`);
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    await writeTemp(tmp, content, mode);
    await publishNoClobber(tmp, path);
    await syncDir(dir);
  } finally {
    await fsp.rm(tmp, { force: true });
  }
}

/**
 * Replaces `path` (or creates it) atomically with `content` and `mode`: readers see the old file
 * or the new one, never a part. Only for files that are meant to be replaced (a regenerated
 * self-signed certificate), never for a master key. The directory must exist.
 */
export async function replaceFile(path: string, content: string | Uint8Array, mode = 0o600): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    await writeTemp(tmp, content, mode);
    await fsp.rename(tmp, path);
    await syncDir(dir);
  } finally {
    await fsp.rm(tmp, { force: true });
  }
}
