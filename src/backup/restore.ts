/**
 * `vecto backup restore`: replaces the data database and the keystore with a backup's.
 *
 * Nothing in the data directory changes until the whole backup has been verified (every chunk,
 * every hash, integrity checks) and every refusal has been decided: appliance serving, tenant
 * backup, newer schema, another installation, unreadable erasure record, a newer backup beside
 * it whose (authenticated) header fails. Refusals leave no trace (not even an audit row: the live
 * files stay byte for byte as they were).
 *
 * What to erase again is the union of every record found (collectErasures): the live audit log,
 * erased-tenants.json in the data directory and beside the backup, --erasures files, the
 * backup's own header, and the headers of the newer full backups beside it. Finding none at all
 * is a loud warning in the report: a backup restored alone onto a new machine cannot know.
 *
 * Then, holding the data-dir lock (so `vecto serve` cannot start meanwhile):
 * 1. the verified copies are opened through the normal composition root (openServices, handed in by the CLI), which
 *    migrates them forward to this build's schema; tenants this installation erased since the
 *    backup are erased again in them; `backup.restored` is recorded in their audit log;
 * 2. the erasure record (erased-tenants.json) is updated;
 * 3. each live file is kept as `<name>.pre-restore-<time>` (a hard link, with its -wal if it had
 *    one), its -wal/-shm are removed (a stale WAL must never meet another database file), and the
 *    restored file is renamed over it: data database first, then keystore (an interrupted
 *    restore leaves new data with the old, newer keystore, which still opens it; run it again).
 */
import { chmod, link, open, rename, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Config } from "../config.js";
import { CryptoError } from "../crypto/index.js";
import { acquireDataDirLock, DataDirBusyError, dataDirLocked, type DataDirLock } from "../db/data-dir-lock.js";
import { keystorePath } from "../db/db.js";
import { SchemaError } from "../db/migrate.js";
import { keystoreMigrations, migrations } from "../db/migrations/index.js";
import { readLiveFacts, type LiveFacts } from "../db/snapshot.js";
import type { Logger } from "../log.js";
import { BackupError, RestoreRefusedError } from "./errors.js";
import { eraseContentAgain, type ErasedItem } from "../graph/erasure.js";
import { shredTenant } from "../auth/erasure.js";
import type { KeyResolver } from "../crypto/index.js";
import { readEmbeddedErasures } from "./embedded-erasures.js";
import { ERASED_FILE, mergeRecords, readErasureRecord, writeErasedFile, type ErasureRecord } from "./erasures.js";
import { backupFilesIn } from "./retention.js";
import type { BackupWiring, OpenedCopy } from "./wiring.js";
import { exists, fsyncDir, privateWorkDir } from "./files.js";
import { DATA_FILE, KEYSTORE_FILE, type BackupHeader } from "./format.js";
import { silentProgress, type Progress } from "./progress.js";
import { readBackupHeader, verifyBackupFile, type VerifyReport } from "./verify.js";

export interface RestoreOptions {
  /** Restore a backup of another installation over this one (a clone or a move); refused otherwise. */
  readonly forceInstallation?: boolean;
  readonly progress?: Progress;
  readonly now?: () => Date;
  /** More erasure records to respect (erased-tenants.json files), e.g. copied from the old machine. */
  readonly erasureFiles?: readonly string[];
}

export interface RestoreReport {
  readonly file: string;
  readonly backupId: string;
  readonly createdAt: string;
  readonly dataDir: string;
  /** The replaced files, kept for an undo. */
  readonly previous: string[];
  /** Tenants erased again because this installation erased them after the backup was taken. */
  readonly erasedAgain: string[];
  /** Nodes and projects erased again, likewise (content erased on request, src/graph/erasure.ts). */
  readonly contentErasedAgain: ErasedItem[];
  /** Where the erasure records came from: the live audit log, record files, newer backups next to this one. */
  readonly erasureSources: string[];
  readonly warnings: string[];
}

const SIDE_FILES = ["-wal", "-shm", "-journal"];

function refuseBusy(dataDir: string): never {
  throw new RestoreRefusedError(
    `refusing to restore: ${dataDir} is in use by a running vecto serve; stop the service first`,
  );
}

/** A backup from a newer build cannot be opened by this one's migrations. */
function checkSchema(header: Pick<VerifyReport, "schema">): void {
  const dataLatest = migrations.at(-1)?.version ?? 0;
  const keysLatest = keystoreMigrations.at(-1)?.version ?? 0;
  if (header.schema.data > dataLatest) {
    throw new RestoreRefusedError(
      `refusing to restore: the backup has data schema version ${header.schema.data}, this build knows ` +
        `up to ${dataLatest}; restore it with the newer vecto that made it`,
    );
  }
  if ((header.schema.keystore ?? 0) > keysLatest) {
    throw new RestoreRefusedError(
      `refusing to restore: the backup has keystore schema version ${String(header.schema.keystore)}, ` +
        `this build knows up to ${keysLatest}; restore it with the newer vecto that made it`,
    );
  }
}

function checkInstallation(report: VerifyReport, live: LiveFacts | null, force: boolean): void {
  if (force || live === null || live.installationId === null || live.installationId === report.installationId) return;
  throw new RestoreRefusedError(
    `refusing to restore: the backup is from installation ${report.installationId}, this data directory ` +
      `is installation ${live.installationId}; use --force-installation to replace it anyway`,
  );
}

/**
 * What the live database says; null when there is none. An unreadable one is reported, not fatal: it may be why we
 * restore.
 */
async function liveFacts(databaseFile: string, warnings: string[]): Promise<LiveFacts | null> {
  if (!(await exists(databaseFile))) return null;
  try {
    return readLiveFacts(databaseFile);
  } catch (error) {
    warnings.push(
      `the live database could not be read (${(error as Error).message}); erasures are taken from ${ERASED_FILE} only`,
    );
    return { installationId: null, erasedTenants: [], erasedContent: [] };
  }
}

/**
 * Opens the staged copies like the appliance would (migrating them forward) and brings them in line with this
 * installation.
 */
interface ErasedAgain {
  readonly tenants: string[];
  readonly content: ErasedItem[];
}

async function prepareStaged(
  config: Config,
  wiring: BackupWiring,
  stageDir: string,
  report: VerifyReport,
  erased: ErasureRecord,
  log: Logger,
): Promise<ErasedAgain> {
  let services: OpenedCopy;
  try {
    services = await wiring.openServices({ ...config, databaseFile: join(stageDir, DATA_FILE) }, log);
  } catch (error) {
    if (error instanceof SchemaError) throw new RestoreRefusedError(`refusing to restore: ${error.message}`);
    if (error instanceof CryptoError)
      throw new RestoreRefusedError(
        `refusing to restore: the backup's keystore does not open with the loaded master key (${error.message})`,
      );
    throw error;
  }
  try {
    const tenants = await eraseAgain(services, erased.tenants, report.backupId);
    const content = await eraseContentAgain(services.db, erased.content, report.backupId);
    services.identity.events.emit({
      event: "backup.restored",
      sensitivity: "security",
      severity: "warn",
      tenantId: null,
      actor: RESTORE_ACTOR,
      payload: {
        backupId: report.backupId,
        backupCreatedAt: report.createdAt,
        backupInstallationId: report.installationId,
        erasedAgain: tenants.length,
        contentErasedAgain: content.length,
      },
    });
    return { tenants, content };
  } finally {
    services.close();
  }
}

const RESTORE_ACTOR = { type: "system", id: "vecto backup restore" } as const;

/** The same steps as a live tenant erasure (shredTenant, src/auth/erasure.ts): keys destroyed first, then the rows. */
async function eraseAgain(services: OpenedCopy, erased: ErasureRecord["tenants"], backupId: string): Promise<string[]> {
  const done: string[] = [];
  const present = new Set(services.db.keystore.summary().map((k) => k.tenantId));
  for (const { tenantId } of erased) {
    const tenant = services.db.tenants.get(tenantId);
    if (!present.has(tenantId) && tenant === undefined) continue;
    await shredTenant(
      { db: services.db, crypto: services.crypto },
      tenantId,
      tenant?.slug ?? null,
      RESTORE_ACTOR,
      backupId,
    );
    done.push(tenantId);
  }
  services.db.checkpoint();
  return done;
}

async function syncFile(path: string): Promise<void> {
  const handle = await open(path, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Keeps the live file (and its WAL) under the pre-restore name, clears its side files, and renames the restored file
 * over it.
 */
async function swapIn(staged: string, live: string, stamp: string): Promise<string | null> {
  for (const side of SIDE_FILES) {
    if (await exists(staged + side)) {
      if (side === "-wal" && (await stat(staged + side)).size > 0)
        throw new BackupError(`${staged}-wal is not empty; refusing to swap an unfinished copy`);
      await rm(staged + side, { force: true });
    }
  }
  await syncFile(staged);
  let kept: string | null = null;
  if (await exists(live)) {
    kept = `${live}.pre-restore-${stamp}`;
    await link(live, kept);
    await chmod(kept, 0o600);
    if (await exists(`${live}-wal`)) await link(`${live}-wal`, `${kept}-wal`);
  }
  for (const side of SIDE_FILES) await rm(live + side, { force: true });
  await chmod(staged, 0o600);
  await rename(staged, live);
  await fsyncDir(dirname(live));
  return kept;
}

function stampOf(now: Date): string {
  return now.toISOString().replace(/[-:]/g, "").replace(".", "");
}

interface Collected {
  readonly record: ErasureRecord;
  /** Where erasures were looked up and found (the restored backup's own header not counted). */
  readonly sources: string[];
}

/**
 * The record files that exist among the data directory's, the one next to the backup, and those given with --erasures
 * (which must exist).
 */
async function recordFiles(config: Config, file: string, given: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  for (const path of [join(config.dataDir, ERASED_FILE), join(dirname(file), ERASED_FILE)])
    if (await exists(path)) found.push(path);
  for (const path of given) {
    if (!(await exists(path)))
      throw new RestoreRefusedError(`refusing to restore: the erasure record ${path} does not exist`);
    found.push(path);
  }
  return [...new Set(found)];
}

/**
 * The erasure records embedded in the other full backups of this installation next to `file`, as
 * new as it or newer, each authenticated. A file whose header cannot be read at all is skipped
 * with a warning (it offers no record; deleting it would lose no more); a readable header that
 * fails authentication was edited, and refuses.
 */
async function newerBackupRecords(
  file: string,
  report: VerifyReport,
  resolver: KeyResolver,
  warnings: string[],
): Promise<{ file: string; record: ErasureRecord }[]> {
  const dir = dirname(file);
  const out: { file: string; record: ErasureRecord }[] = [];
  for (const other of await backupFilesIn(dir)) {
    if (other === file) continue;
    let header: BackupHeader;
    try {
      header = (await readBackupHeader(other)).header;
    } catch (error) {
      if (!(error instanceof BackupError)) throw error;
      warnings.push(
        `${other}, next to the backup, is not a readable backup (${error.message}); an erasure record it ` +
          `may have held was not used`,
      );
      continue;
    }
    // A copy of the backup being restored (same id) carries the record already read from it. A
    // header without a record is authenticated too: removing the record is an edit of it.
    if (
      header.kind !== "full" ||
      header.backupId === report.backupId ||
      header.installationId !== report.installationId ||
      header.createdAt < report.createdAt
    )
      continue;
    try {
      const embedded = await readEmbeddedErasures(other, resolver);
      if (embedded.record !== null) out.push({ file: other, record: embedded.record });
    } catch (error) {
      if (!(error instanceof BackupError)) throw error;
      throw new RestoreRefusedError(
        `refusing to restore: ${other}, next to the backup, may hold a newer erasure record and cannot ` +
          `be trusted (${error.message}); move it out of ${dir} (and keep it) to restore without it`,
      );
    }
  }
  return out;
}

/**
 * Every erasure this installation recorded anywhere: live database, record files, the backup's own header, newer
 * backups next to it. A malformed or untrustworthy record refuses.
 */
async function collectErasures(
  config: Config,
  file: string,
  verified: { report: VerifyReport; header: BackupHeader },
  live: LiveFacts | null,
  options: RestoreOptions,
  resolver: KeyResolver,
  warnings: string[],
): Promise<Collected> {
  const { report, header } = verified;
  const records: ErasureRecord[] = [];
  const sources: string[] = [];
  if (live !== null && live.installationId !== null) {
    records.push({ tenants: live.erasedTenants, content: live.erasedContent });
    sources.push(`the audit log of ${config.databaseFile}`);
  }
  for (const path of await recordFiles(config, file, options.erasureFiles ?? [])) {
    try {
      records.push(await readErasureRecord(path));
    } catch (error) {
      throw new RestoreRefusedError(`refusing to restore: ${(error as Error).message}`);
    }
    sources.push(path);
  }
  for (const newer of await newerBackupRecords(file, report, resolver, warnings)) {
    records.push(newer.record);
    sources.push(newer.file);
  }
  if (header.erasures !== undefined) records.push(header.erasures);
  return { record: mergeRecords(...records), sources };
}

/** Said loudly: nothing told the restore what was erased after the backup was taken. */
function noRecordWarning(config: Config, file: string, report: VerifyReport): string {
  return (
    `NO ERASURE RECORD FOUND: no live database in ${config.dataDir}, no ${ERASED_FILE} there or next to ` +
    `the backup, no newer backup next to it. ` +
    (`Tenants and content erased after ${report.createdAt} are back. Copy the whole backup directory (not ` +
      `one file), or give the record with --erasures FILE, and restore again; `) +
    `or erase them again by hand`
  );
}

interface Decision {
  readonly report: VerifyReport;
  readonly erased: ErasureRecord;
  readonly erasureSources: string[];
  readonly warnings: string[];
}

/**
 * Everything that may refuse, before anything changes: the whole backup verified into `workDir`, schema, installation,
 * erasure record.
 */
async function decide(
  config: Config,
  wiring: BackupWiring,
  file: string,
  workDir: string,
  options: RestoreOptions,
): Promise<Decision> {
  const resolver = await wiring.openKeyResolver(config);
  const verified = await verifyBackupFile(file, { resolver }, workDir, options.progress ?? silentProgress);
  const { report } = verified;
  // After verification: the schema versions are then the authenticated, checked ones.
  checkSchema(report);
  const warnings: string[] = [];
  const live = await liveFacts(config.databaseFile, warnings);
  checkInstallation(report, live, options.forceInstallation ?? false);
  const collected = await collectErasures(config, file, verified, live, options, resolver, warnings);
  if (collected.sources.length === 0) warnings.unshift(noRecordWarning(config, file, report));
  return { report, erased: collected.record, erasureSources: collected.sources, warnings };
}

function lockOrRefuse(dataDir: string): DataDirLock {
  try {
    return acquireDataDirLock(dataDir);
  } catch (error) {
    if (error instanceof DataDirBusyError) refuseBusy(dataDir);
    throw error;
  }
}

/**
 * Under the lock: brings the staged copies in line, records erasures, swaps both files in. Returns the kept previous
 * files.
 */
async function replaceLive(
  config: Config,
  wiring: BackupWiring,
  workDir: string,
  decision: Decision,
  log: Logger,
  now: Date,
): Promise<{ previous: string[]; erasedAgain: ErasedAgain }> {
  const erasedAgain = await prepareStaged(config, wiring, workDir, decision.report, decision.erased, log);
  if (decision.erased.tenants.length + decision.erased.content.length > 0)
    await writeErasedFile(join(config.dataDir, ERASED_FILE), decision.erased);
  const stamp = stampOf(now);
  const previous: string[] = [];
  for (const [staged, liveFile] of [
    [join(workDir, DATA_FILE), config.databaseFile],
    [join(workDir, KEYSTORE_FILE), keystorePath(config.databaseFile)],
  ] as const) {
    const kept = await swapIn(staged, liveFile, stamp);
    if (kept !== null) previous.push(kept);
  }
  return { previous, erasedAgain };
}

/**
 * Verifies, decides, then replaces, opening keys and the staged copy through `wiring`. Throws RestoreRefusedError /
 * BackupInvalidError with one line; the data dir is untouched then.
 */
export async function restoreBackup(
  config: Config,
  wiring: BackupWiring,
  file: string,
  log: Logger,
  options: RestoreOptions = {},
): Promise<RestoreReport> {
  const dataDir = config.dataDir;
  if (dataDirLocked(dataDir)) refuseBusy(dataDir);
  const { header } = await readBackupHeader(file);
  if (header.kind !== "full")
    throw new RestoreRefusedError(
      `refusing to restore: ${file} is a tenant backup (tenant ${header.tenant?.slug ?? ""}); tenant ` +
        `backups are for export and verification, only full backups are restored`,
    );
  const work = await privateWorkDir(dataDir, "restore");
  try {
    const decision = await decide(config, wiring, file, work.path, options);
    const lock = lockOrRefuse(dataDir);
    try {
      const { previous, erasedAgain } = await replaceLive(
        config,
        wiring,
        work.path,
        decision,
        log,
        options.now?.() ?? new Date(),
      );
      const { report, warnings, erasureSources } = decision;
      return {
        file,
        backupId: report.backupId,
        createdAt: report.createdAt,
        dataDir,
        previous,
        erasedAgain: erasedAgain.tenants,
        contentErasedAgain: erasedAgain.content,
        erasureSources,
        warnings,
      };
    } finally {
      lock.release();
    }
  } finally {
    await work.remove();
  }
}
