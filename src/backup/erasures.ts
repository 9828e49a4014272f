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
 *
 * Erased content (a node or a project hard-deleted on request, src/graph/erasure.ts) is recorded
 * the same way: its `node.erased` / `project.erased` events in the tenant's audit log, and an
 * entry (tenant id, kind, id, time) in the same file. A backup from before the erasure still
 * holds the rows; restore deletes them again.
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

export interface ErasedContent {
  readonly tenantId: string;
  readonly kind: "node" | "project";
  readonly id: string;
  readonly erasedAt: string;
}

/** What the erasure file holds: erased tenants, and erased content of the tenants that remain. */
export interface ErasureRecord {
  readonly tenants: ErasedTenant[];
  readonly content: ErasedContent[];
}

const idText = z.string().min(1).max(200);
const fileSchema = z.object({
  note: z.string().optional(),
  tenants: z.array(z.object({ tenantId: idText, erasedAt: z.string().max(64) })),
  // Absent in files written before content erasure existed.
  content: z.array(z.object({ tenantId: idText, kind: z.enum(["node", "project"]), id: idText, erasedAt: z.string().max(64) })).default([]),
});

/** The erased tenants recorded in a file; none when it does not exist. */
export async function readErasedFile(path: string): Promise<ErasedTenant[]> {
  return (await readErasureRecord(path)).tenants;
}

/** Everything recorded in a file; nothing when it does not exist. A malformed file is an error: ignoring it could bring erased data back. */
export async function readErasureRecord(path: string): Promise<ErasureRecord> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { tenants: [], content: [] };
    throw new BackupError(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? "error"}`);
  }
  let parsed;
  try {
    parsed = fileSchema.safeParse(JSON.parse(text));
  } catch {
    parsed = undefined;
  }
  if (!parsed?.success) throw new BackupError(`${path} is malformed; it records erased tenants and content, fix it rather than delete it`);
  return { tenants: parsed.data.tenants, content: parsed.data.content };
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

/** One entry per erased item (the earliest time), sorted by tenant, kind and id. */
export function mergeContentErasures(...lists: readonly (readonly ErasedContent[])[]): ErasedContent[] {
  const byKey = new Map<string, ErasedContent>();
  for (const entry of lists.flat()) {
    const key = `${entry.tenantId}|${entry.kind}|${entry.id}`;
    const known = byKey.get(key);
    if (known === undefined || entry.erasedAt < known.erasedAt) byKey.set(key, entry);
  }
  return [...byKey.values()].sort((a, b) => a.tenantId.localeCompare(b.tenantId) || a.kind.localeCompare(b.kind) || a.id.localeCompare(b.id));
}

/** Replaces the file atomically (temp file 0600, fsync, rename, fsync dir). */
export async function writeErasedFile(path: string, record: ErasureRecord): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  const doc = { note: "Tenants and content erased in this Vecto installation; vecto backup restore erases them again. Do not delete.", tenants: record.tenants, content: record.content };
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

/** Adds `tenants` (and `content`) to the file at `path` (created if missing); writes only when something is new. */
export async function recordErasures(path: string, tenants: readonly ErasedTenant[], content: readonly ErasedContent[] = []): Promise<ErasedTenant[]> {
  const known = await readErasureRecord(path);
  const merged = { tenants: mergeErasures(known.tenants, tenants), content: mergeContentErasures(known.content, content) };
  if (JSON.stringify(merged) !== JSON.stringify(known)) await writeErasedFile(path, merged);
  return merged.tenants;
}
