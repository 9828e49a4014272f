/**
 * File handling for backups: private work directories inside the data directory (never /tmp: the
 * snapshots there are as sensitive as the live files, and the data directory is where the
 * operator already protects them), and publishing a backup so that a crash never leaves a file
 * that looks complete.
 */
import { constants as fsc } from "node:fs";
import { chmod, link, lstat, mkdir, mkdtemp, open, rm, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { BackupError } from "./errors.js";

export interface WorkDir {
  readonly path: string;
  remove(): Promise<void>;
}

export const PARTIAL_SUFFIX = ".partial";
const WRITE_BATCH_BYTES = 4 * 1024 * 1024;

/** A fresh 0700 directory `<dataDir>/.<purpose>-XXXXXX`; remove() deletes it and what it holds. */
export async function privateWorkDir(dataDir: string, purpose: string): Promise<WorkDir> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const path = await mkdtemp(join(dataDir, `.${purpose}-`));
  await chmod(path, 0o700);
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

export async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw error;
  }
}

export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, fsc.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes `chunks` to `file`: first into `file.partial` (0600, created exclusively), fsynced, then
 * published under the final name with link(2), which refuses to replace an existing file, and
 * the directory fsynced. Returns the bytes written. On failure the partial file is removed.
 */
export async function writeNewFileAtomically(file: string, chunks: AsyncIterable<Uint8Array>): Promise<number> {
  if (await exists(file)) throw new BackupError(`${file} already exists; refusing to overwrite it`);
  const partial = file + PARTIAL_SUFFIX;
  let handle;
  try {
    handle = await open(partial, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST")
      throw new BackupError(
        `${partial} exists: another backup is being written there, or an interrupted one left it (remove it)`,
      );
    throw error;
  }
  let written = 0;
  try {
    try {
      // Pieces (ciphertexts, 16-byte tags) are gathered into one writev per few MiB: fewer syscalls, no copying.
      let batch: Uint8Array[] = [];
      let batched = 0;
      for await (const chunk of chunks) {
        batch.push(chunk);
        batched += chunk.length;
        if (batched >= WRITE_BATCH_BYTES) {
          await handle.writev(batch);
          written += batched;
          [batch, batched] = [[], 0];
        }
      }
      if (batch.length > 0) await handle.writev(batch);
      written += batched;
      await handle.sync();
    } finally {
      await handle.close();
    }
    await publish(partial, file);
    return written;
  } finally {
    await rm(partial, { force: true });
  }
}

async function publish(partial: string, file: string): Promise<void> {
  try {
    await link(partial, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST")
      throw new BackupError(`${file} already exists; refusing to overwrite it`);
    throw error;
  }
  await unlink(partial);
  await fsyncDir(dirname(file));
}
