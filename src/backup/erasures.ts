/**
 * GDPR erasures must survive a restore. A full backup holds the keystore as it was, so a backup
 * taken before a tenant was erased still holds that tenant's keys and rows. Restoring it must not
 * bring the tenant back: restore erases again every tenant this installation has erased.
 *
 * Where "this installation has erased" is recorded, and why in several places:
 * - the `tenant.erased` events of the platform's audit log in the live database: signed,
 *   append-only, written in the erasure's own transaction. Authoritative, but the live database is
 *   exactly what a restore replaces (and may be the broken thing being restored);
 * - `erased-tenants.json`, a small file in the data directory and in the backup directory,
 *   written right after each erasure commits (erasure-journal.ts), and again by every backup and
 *   at every start (which repairs a write that failed or a crash in between): outside the two
 *   files a restore replaces, so the record survives a chain of restores, and a copy travels with
 *   the backups. It holds ids and times only, no personal data;
 * - the header of every full backup (format.ts, `erasures`): the record as of that backup,
 *   authenticated like the rest of the header, so a newer backup in the same directory tells a
 *   restore of an older one what was erased since (restore.ts, embedded-erasures.ts).
 * A new keystore table would not do: the keystore is restored from the backup too.
 *
 * Erased content (a node or a project hard-deleted on request, src/graph/erasure.ts) is recorded
 * the same way: its `node.erased` / `project.erased` events in the tenant's audit log, and an
 * entry (tenant id, kind, id, time) in the same file. A backup from before the erasure still
 * holds the rows; restore deletes them again.
 */
import { randomBytes } from "node:crypto";
import { constants as fsc } from "node:fs";
import { open, readFile, rename, rm, stat } from "node:fs/promises";
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
export const erasedTenantSchema = z.object({ tenantId: idText, erasedAt: z.string().max(64) }).strict();
export const erasedContentSchema = z
  .object({ tenantId: idText, kind: z.enum(["node", "project"]), id: idText, erasedAt: z.string().max(64) })
  .strict();
const fileSchema = z.object({
  note: z.string().optional(),
  tenants: z.array(erasedTenantSchema),
  // Absent in files written before content erasure existed.
  content: z.array(erasedContentSchema).default([]),
});

export const EMPTY_RECORD: ErasureRecord = { tenants: [], content: [] };

/** The union of records: an erasure recorded anywhere counts. */
export function mergeRecords(...records: readonly ErasureRecord[]): ErasureRecord {
  return {
    tenants: mergeErasures(...records.map((r) => r.tenants)),
    content: mergeContentErasures(...records.map((r) => r.content)),
  };
}

/** The erased tenants recorded in a file; none when it does not exist. */
export async function readErasedFile(path: string): Promise<ErasedTenant[]> {
  return (await readErasureRecord(path)).tenants;
}

/**
 * Everything recorded in a file; nothing when it does not exist. A malformed file is an error: ignoring it could bring
 * erased data back.
 */
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
  if (!parsed?.success)
    throw new BackupError(`${path} is malformed; it records erased tenants and content, fix it rather than delete it`);
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
  return [...byKey.values()].sort(
    (a, b) => a.tenantId.localeCompare(b.tenantId) || a.kind.localeCompare(b.kind) || a.id.localeCompare(b.id),
  );
}

/** Replaces the file atomically (temp file 0600, fsync, rename, fsync dir). */
export async function writeErasedFile(path: string, record: ErasureRecord): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  const doc = {
    note:
      "Tenants and content erased in this Vecto installation; vecto backup restore erases them again. " +
      "Do not delete.",
    tenants: record.tenants,
    content: record.content,
  };
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

/**
 * Read-merge-write of one file, one at a time per path within this process (an erasure and a backup may record at
 * once).
 */
const pending = new Map<string, Promise<unknown>>();

function serialized<T>(path: string, run: () => Promise<T>): Promise<T> {
  const previous = pending.get(path) ?? Promise.resolve();
  const next = previous.then(run, run);
  const settled = next.catch(() => undefined);
  pending.set(path, settled);
  void settled.then(() => {
    if (pending.get(path) === settled) pending.delete(path);
  });
  return next;
}

/**
 * Adds `tenants` (and `content`) to the file at `path` (created if missing, also when there is
 * nothing to record yet: an empty record still says "nothing was erased as of now"); writes only
 * when something is new. Returns the file's record.
 */
export function recordErasures(
  path: string,
  tenants: readonly ErasedTenant[],
  content: readonly ErasedContent[] = [],
): Promise<ErasureRecord> {
  return serialized(path, async () => {
    let missing = false;
    try {
      await stat(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      missing = true;
    }
    const known = await readErasureRecord(path);
    const merged = {
      tenants: mergeErasures(known.tenants, tenants),
      content: mergeContentErasures(known.content, content),
    };
    if (missing || JSON.stringify(merged) !== JSON.stringify(known)) await writeErasedFile(path, merged);
    return merged;
  });
}
