/**
 * Backup file names and retention. Names sort by time so the newest N are found without opening
 * any file: `vecto-full-20260505T030000.000Z-1a2b3c4d.vbak` (UTC, to the millisecond), and for a
 * tenant `vecto-tenant-<slug>-20260505T030000.000Z-1a2b3c4d.vbak`. Retention only ever touches full
 * backups with this shape in the backup directory; whatever else an operator keeps there is theirs.
 */
import { randomBytes } from "node:crypto";
import { readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { PARTIAL_SUFFIX } from "./files.js";

export const BACKUP_EXTENSION = ".vbak";
const FULL_NAME = /^vecto-full-\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{8}\.vbak$/;
const ANY_NAME = /^vecto-(?:full|tenant-[a-z0-9-]+)-\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{8}\.vbak$/;
const STAMP = /(\d{8}T\d{6}\.\d{3}Z)-[0-9a-f]{8}\.vbak$/;
/** A .partial this old belongs to no running backup: an interrupted one left it. */
const STALE_PARTIAL_MS = 24 * 60 * 60 * 1000;

function stamp(now: Date): string {
  return now.toISOString().replace(/[-:]/g, "");
}

export function backupFileName(now: Date, tenantSlug?: string): string {
  const kind = tenantSlug === undefined ? "full" : `tenant-${tenantSlug.toLowerCase().replace(/[^a-z0-9-]/g, "-")}`;
  return `vecto-${kind}-${stamp(now)}-${randomBytes(4).toString("hex")}${BACKUP_EXTENSION}`;
}

/** Backup files in `dir` (full and tenant), oldest first; an absent directory has none. */
export async function listBackupFiles(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  const key = (name: string): string => STAMP.exec(name)?.[1] ?? "";
  return names
    .filter((n) => ANY_NAME.test(n))
    .sort((a, b) => key(a).localeCompare(key(b)) || a.localeCompare(b))
    .map((n) => join(dir, n));
}

/** Every backup file (*.vbak, whatever its name) directly in `dir`, sorted by name; none when it does not exist. */
export async function backupFilesIn(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries
      .filter((e) => e.isFile() && e.name.endsWith(BACKUP_EXTENSION))
      .map((e) => join(dir, e.name))
      .sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
}

/**
 * Keeps the newest `keep` full backups in `dir` (never removing `protect`, the one just made and
 * verified) and removes older ones; also removes .partial files left by interrupted runs.
 * Returns the removed files.
 */
export async function applyRetention(
  dir: string,
  keep: number,
  protect: string,
  now: Date = new Date(),
): Promise<string[]> {
  const names = (await readdir(dir)).filter((n) => FULL_NAME.test(n)).sort();
  const removable = names.map((n) => join(dir, n)).filter((p) => p !== protect);
  const excess = Math.max(0, names.length - Math.max(keep, 1));
  const removed = removable.slice(0, excess);
  for (const path of removed) await rm(path, { force: true });
  for (const name of (await readdir(dir)).filter((n) => n.endsWith(BACKUP_EXTENSION + PARTIAL_SUFFIX))) {
    const path = join(dir, name);
    if (now.getTime() - (await stat(path)).mtimeMs > STALE_PARTIAL_MS) {
      await rm(path, { force: true });
      removed.push(path);
    }
  }
  return removed;
}
