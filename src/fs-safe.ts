/**
 * Careful file writes: a new file appears whole or not at all (temp file, fsync, rename) and
 * never replaces an existing one. Secret files are created 0600 from the first byte.
 */
import { closeSync, constants, fsyncSync, linkSync, mkdirSync, openSync, unlinkSync, writeSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { basename, dirname, join } from "node:path";

export class FileExistsError extends Error {
  override readonly name = "FileExistsError";
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, constants.O_RDONLY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes `content` to a new file at `path`; refuses if `path` exists. */
export function writeNewFile(path: string, content: string | Uint8Array, mode: number): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const temp = join(dir, `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  try {
    writeSync(fd, typeof content === "string" ? Buffer.from(content) : content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    // link() fails if the target exists, unlike rename(): no existing file is ever replaced.
    linkSync(temp, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") throw new FileExistsError(`${path} already exists; refusing to overwrite it`);
    throw error;
  } finally {
    unlinkSync(temp);
  }
  fsyncDir(dir);
}

export function writeNewSecretFile(path: string, content: string | Uint8Array): void {
  writeNewFile(path, content, 0o600);
}
