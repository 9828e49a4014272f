/**
 * GDPR erasures must survive a restore. A full backup holds the keystore as it was, so a backup
 * taken before a tenant was erased still holds that tenant's keys and rows. Restoring it must not
 * bring the tenant back: restore erases again every tenant this installation has erased.
 *
 * Where "this installation has erased" is recorded, and why in two places:
 * - the `tenant.erased` events of the platform's audit log in the live database: signed,
 *   append-only, written in the erasure's own transaction. Authoritative, but the live database is
 *   exactly what a restore replaces (and may be the broken thing being restored);
 * - `erased-tenants.json`, a small file in the data directory (and, written by every scheduled
 *   backup, in the backup directory): outside the two files a restore replaces, so the record
 *   survives a chain of restores, and a copy travels with the backups for a restore onto a new
 *   machine. It holds tenant ids and times only, no personal data.
 * A new keystore table would not do: the keystore is restored from the backup too.
 */
import { randomBytes } from "node:crypto";
import { constants as fsc } from "node:fs";
import { open, readFile, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { z } from "zod";
import { BackupError } from "./errors.js";
import { fsyncDir } from "./files.js";

export const ERASED_FILE = "erased-tenants.json";

export interface ErasedTenant {
  readonly tenantId: string;
  readonly erasedAt: string;
}

const fileSchema = z.object({
  note: z.string().optional(),
  tenants: z.array(z.object({ tenantId: z.string().min(1).max(200), erasedAt: z.string().max(64) })),
});

/** The erasures recorded in a file; none when it does not exist. A malformed file is an error: ignoring it could bring an erased tenant back. */
export async function readErasedFile(path: string): Promise<ErasedTenant[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw new BackupError(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? "error"}`);
  }
  let parsed;
  try {
    parsed = fileSchema.safeParse(JSON.parse(text));
  } catch {
    parsed = undefined;
  }
  if (!parsed?.success) throw new BackupError(`${path} is malformed; it records erased tenants, fix it rather than delete it`);
  return parsed.data.tenants;
}

/** One entry per tenant (the earliest erasure time), sorted by tenant id. */
export function mergeErasures(...lists: readonly (readonly ErasedTenant[])[]): ErasedTenant[] {
  const byId = new Map<string, ErasedTenant>();
  for (const entry of lists.flat()) {
    const known = byId.get(entry.tenantId);
    if (known === undefined || entry.erasedAt < known.erasedAt) byId.set(entry.tenantId, entry);
  }
  return [...byId.values()].sort((a, b) => a.tenantId.localeCompare(b.tenantId));
}

/** Replaces the file atomically (temp file 0600, fsync, rename, fsync dir). */
export async function writeErasedFile(path: string, tenants: readonly ErasedTenant[]): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  const doc = { note: "Tenants erased in this Vecto installation; vecto backup restore erases them again. Do not delete.", tenants };
  try {
    const handle = await open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
    try {
      await handle.writeFile(`${JSON.stringify(doc, null, 2)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
    await fsyncDir(dir);
  } finally {
    await rm(tmp, { force: true });
  }
}

/** Adds `tenants` to the file at `path` (created if missing); writes only when something is new. */
export async function recordErasures(path: string, tenants: readonly ErasedTenant[]): Promise<ErasedTenant[]> {
  const known = await readErasedFile(path);
  const merged = mergeErasures(known, tenants);
  if (JSON.stringify(merged) !== JSON.stringify(known)) await writeErasedFile(path, merged);
  return merged;
}
