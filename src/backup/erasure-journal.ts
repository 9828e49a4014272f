/**
 * Writes the erasure record (erased-tenants.json, erasures.ts) at the moment of erasure, so that
 * a restore of any older backup erases again, also on a new machine and whether or not a backup
 * ran since. The erasure itself (and its audit event, the authoritative record) has committed
 * before this runs: a file that cannot be written is logged and never undoes or fails the
 * erasure; the next backup and the next `vecto serve` start rewrite the file from the live audit
 * log (repairErasureRecords), which also heals a crash between the commit and the write.
 *
 * Where: the data directory always; the backup directory when it exists (it is created by the
 * first backup; creating it here could put a directory on an unmounted mount point).
 */
import { stat } from "node:fs/promises";
import { join } from "node:path";
import type { Config } from "../config.js";
import { readLiveFacts } from "../db/snapshot.js";
import type { Logger } from "../log.js";
import type { ErasureJournal } from "../vocabulary/erasure.js";
import { ERASED_FILE, recordErasures, type ErasedContent, type ErasedTenant, type ErasureRecord } from "./erasures.js";

type JournalConfig = Pick<Config, "dataDir" | "backup">;

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** The erasure files to keep current: the data directory's, and the backup directory's when it exists. */
export async function erasureFiles(config: JournalConfig): Promise<string[]> {
  const files = [join(config.dataDir, ERASED_FILE)];
  if (config.backup.dir !== config.dataDir && (await isDirectory(config.backup.dir)))
    files.push(join(config.backup.dir, ERASED_FILE));
  return files;
}

async function recordEverywhere(
  config: JournalConfig,
  log: Logger,
  tenants: ErasedTenant[],
  content: ErasedContent[],
): Promise<void> {
  for (const file of await erasureFiles(config)) {
    try {
      await recordErasures(file, tenants, content);
    } catch (error) {
      log.error(
        { file, error: { name: (error as Error).name, message: (error as Error).message } },
        "the erasure is done and audited, but the erasure record could not be written; the next backup " +
          "or start of vecto serve writes it",
      );
    }
  }
}

export function erasureJournal(config: JournalConfig, log: Logger): ErasureJournal {
  return {
    tenantErased: (tenantId) => recordEverywhere(config, log, [{ tenantId, erasedAt: new Date().toISOString() }], []),
    contentErased: (tenantId, kind, id) =>
      recordEverywhere(config, log, [], [{ tenantId, kind, id, erasedAt: new Date().toISOString() }]),
  };
}

/**
 * Brings the erasure files up to date with the live audit log (every `tenant.erased`,
 * `node.erased`, `project.erased` event). Run at start by `vecto serve`. Throws when a file
 * cannot be read or written; the caller decides whether that stops anything.
 */
export async function repairErasureRecords(
  config: JournalConfig & Pick<Config, "databaseFile">,
): Promise<ErasureRecord> {
  const { erasedTenants, erasedContent } = readLiveFacts(config.databaseFile);
  let record: ErasureRecord = { tenants: [], content: [] };
  for (const file of await erasureFiles(config)) record = await recordErasures(file, erasedTenants, erasedContent);
  return record;
}
