/**
 * The scheduled backup (a job of `vecto serve`, src/jobs): a full backup into the backup
 * directory, verified completely, and only then the oldest ones beyond VECTO_BACKUP_KEEP removed.
 * A backup that fails verification is deleted and the run fails: retention never trades a good
 * old backup for a bad new one. Each run is audited (backup.created, backup.verified, or
 * backup.failed) besides the scheduler's own job.run event. The erasure record is refreshed in
 * the data and backup directories, and carried in the backup's header, by createFullBackup.
 */
import { mkdir, rm } from "node:fs/promises";
import { basename, join } from "node:path";
import type { EventSink } from "../audit/events.js";
import type { KeyResolver } from "../crypto/index.js";
import { backupRecorder, recordBackupCreated, recordBackupFailed, recordBackupVerified } from "./audit-records.js";
import { createFullBackup, type BackupSource } from "./create.js";
import { privateWorkDir } from "./files.js";
import { applyRetention, backupFileName } from "./retention.js";
import { verifyBackup } from "./verify.js";

export interface ScheduledBackupDeps {
  readonly source: BackupSource;
  readonly backupDir: string;
  readonly keep: number;
  readonly resolver: KeyResolver;
  readonly events: EventSink;
  readonly now?: () => Date;
  /** Tests only: small chunks. */
  readonly chunkBytes?: number;
}

export interface ScheduledBackupResult {
  readonly file: string;
  readonly backupId: string;
  readonly bytes: number;
  readonly removed: number;
}

async function verifyOrDelete(file: string, deps: ScheduledBackupDeps): Promise<void> {
  const work = await privateWorkDir(deps.source.dataDir, "verify");
  try {
    await verifyBackup(file, { resolver: deps.resolver }, work.path);
  } catch (error) {
    await rm(file, { force: true });
    throw error;
  } finally {
    await work.remove();
  }
}

export async function runScheduledBackup(deps: ScheduledBackupDeps): Promise<ScheduledBackupResult> {
  const now = deps.now?.() ?? new Date();
  const recorder = backupRecorder(deps.events, "job:backup");
  try {
    await mkdir(deps.backupDir, { recursive: true, mode: 0o700 });
    const out = join(deps.backupDir, backupFileName(now));
    const created = await createFullBackup(deps.source, deps.resolver, {
      out,
      ...(deps.now ? { now: deps.now } : {}),
      ...(deps.chunkBytes ? { chunkBytes: deps.chunkBytes } : {}),
    });
    recordBackupCreated(recorder, {
      backupId: created.backupId,
      kind: created.kind,
      file: basename(out),
      bytes: created.bytes,
      keyOwner: created.keyOwner,
    });
    await verifyOrDelete(out, deps);
    recordBackupVerified(recorder, { backupId: created.backupId, kind: created.kind, file: basename(out) });
    const removed = await applyRetention(deps.backupDir, deps.keep, out, now);
    return { file: out, backupId: created.backupId, bytes: created.bytes, removed: removed.length };
  } catch (error) {
    recordBackupFailed(recorder, "scheduled", error);
    throw error;
  }
}
