/**
 * `vecto backup create|verify|restore|list|rewrap` (docs/backup.md). Exit codes: 0 done; 1 could
 * not run (configuration, files, key resolver unreachable); 2 the backup is not intact or cannot
 * be opened with the keys here; 3 restore refused (serving, newer schema, other installation,
 * untrustworthy erasure record, not confirmed). Failures are one line on stderr; progress goes to
 * stderr only on a terminal.
 */
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import type { Command } from "commander";
import { createFullBackup, type CreatedBackup } from "../backup/create.js";
import { BackupInvalidError, RestoreRefusedError } from "../backup/errors.js";
import { privateWorkDir } from "../backup/files.js";
import { terminalProgress } from "../backup/progress.js";
import { restoreBackup } from "../backup/restore.js";
import { rewrapBackup, type RewrapResult } from "../backup/rewrap.js";
import { MasterKeyRing } from "../crypto/index.js";
import { backupFileName, backupFilesIn, listBackupFiles } from "../backup/retention.js";
import { createTenantBackup } from "../backup/tenant.js";
import { readBackupHeader, verifyBackup, type BackupKeys, type VerifyReport } from "../backup/verify.js";
import {
  backupRecorder,
  recordBackupCreated,
  recordBackupFailed,
  recordBackupRewrapped,
  recordBackupVerified,
  type BackupRecorder,
} from "../backup/audit-records.js";
import type { Config } from "../config.js";
import { CryptoError } from "../crypto/index.js";
import { keystorePath } from "../db/db.js";
import { openKeyResolver, openServices, type Services } from "../services.js";
import { cliLogger, commandConfig } from "./context.js";
import { action, CliError, printJson, printLine } from "./output.js";
import { resolveTenant } from "./tenant.js";

const EXIT_INVALID = 2;
const EXIT_REFUSED = 3;

interface CreateOptions {
  readonly out?: string;
  readonly dir?: string;
  readonly tenant?: string;
  readonly json?: boolean;
}

/** Backup errors keep their message and get their exit code. */
function withExitCodes<A extends unknown[]>(run: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return action(async (...args: A) => {
    try {
      await run(...args);
    } catch (error) {
      if (error instanceof BackupInvalidError) throw new CliError(error.message, EXIT_INVALID);
      if (error instanceof RestoreRefusedError) throw new CliError(error.message, EXIT_REFUSED);
      throw error;
    }
  });
}

function requireDatabase(config: Config): void {
  if (!existsSync(config.databaseFile))
    throw new CliError(`no database at ${config.databaseFile}; run "vecto init" first`);
}

function recorder(services: Services | undefined): BackupRecorder {
  return backupRecorder(services?.identity.events, "vecto backup");
}

async function outputFile(config: Config, options: CreateOptions, tenantSlug: string | undefined): Promise<string> {
  if (options.out !== undefined && options.dir !== undefined) throw new CliError("--out and --dir cannot be combined");
  if (options.out !== undefined) return resolve(options.out);
  const dir = resolve(options.dir ?? config.backup.dir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  return join(dir, backupFileName(new Date(), tenantSlug));
}

async function runCreate(services: Services, config: Config, options: CreateOptions): Promise<CreatedBackup> {
  const progress = terminalProgress(process.stderr, options.json !== true);
  const found = options.tenant === undefined ? undefined : resolveTenant(services.db, options.tenant, "customer");
  // Only what the backup header names (the header is checked strictly).
  const tenant = found === undefined ? undefined : { id: found.id, slug: found.slug };
  const out = await outputFile(config, options, tenant?.slug);
  if (tenant !== undefined) {
    const source = {
      dataDir: config.dataDir,
      databaseFile: config.databaseFile,
      installationId: services.db.installationId(),
      schemaVersion: services.db.schemaVersion(),
    };
    return createTenantBackup(source, services.crypto, tenant, { out, progress });
  }
  return createFullBackup(
    { dataDir: config.dataDir, databaseFile: config.databaseFile, keystoreFile: keystorePath(config.databaseFile) },
    services.resolver,
    { out, progress },
  );
}

async function createAction(options: CreateOptions): Promise<void> {
  const config = commandConfig();
  requireDatabase(config);
  const services = await openServices(config, cliLogger(config));
  try {
    const created = await runCreate(services, config, options);
    recordBackupCreated(recorder(services), {
      backupId: created.backupId,
      kind: created.kind,
      file: basename(created.file),
      bytes: created.bytes,
      keyOwner: created.keyOwner,
    });
    if (options.json) return printJson(created);
    printLine(
      `${created.kind} backup ${created.backupId} written to ${created.file} (${created.bytes} bytes, ` +
        `${created.kind === "full" ? "master key" : "tenant"} ${created.keyOwner})`,
    );
  } catch (error) {
    recordBackupFailed(recorder(services), "create", error);
    throw error;
  } finally {
    services.close();
  }
}

/**
 * The keys a verification may use: the installation's (with its audit trail) when there is one, else the master key
 * alone.
 */
async function verificationKeys(
  config: Config,
  kind: "full" | "tenant",
): Promise<{ keys: BackupKeys; services?: Services }> {
  if (existsSync(config.databaseFile)) {
    try {
      const services = await openServices(config, cliLogger(config));
      const tenantHasKeys = (id: string): boolean => services.db.keystore.listTenantKeys(id).length > 0;
      return {
        keys: {
          resolver: services.resolver,
          crypto: services.crypto,
          installationId: services.db.installationId(),
          tenantHasKeys,
        },
        services,
      };
    } catch (error) {
      // The installation does not open with this master key; a full backup may still (that is what is being checked).
      if (kind === "tenant" || !(error instanceof CryptoError)) throw error;
    }
  }
  if (kind === "tenant")
    throw new CliError(
      `a tenant backup is verified in its installation, with the tenant's key; there is no database at ` +
        `${config.databaseFile}`,
    );
  return { keys: { resolver: await openKeyResolver(config) } };
}

async function rewrapAction(files: string[], options: { dir?: string; json?: boolean }): Promise<void> {
  if (files.length > 0 === (options.dir !== undefined)) throw new CliError("give backup files or --dir DIR");
  const config = commandConfig();
  const targets = options.dir !== undefined ? await backupFilesIn(resolve(options.dir)) : files.map((f) => resolve(f));
  if (targets.length === 0) throw new CliError(`no backup files (*.vbak) in ${resolve(options.dir ?? ".")}`);
  const { keys, services } = await verificationKeys(config, "full");
  const ring = keys.resolver instanceof MasterKeyRing ? keys.resolver : await openKeyResolver(config);
  const results: RewrapResult[] = [];
  try {
    for (const file of targets) {
      const result = await rewrapBackup(file, config, { openServices, openKeyResolver }, ring, cliLogger(config));
      if (result.status === "rewrapped")
        recordBackupRewrapped(recorder(services), {
          backupId: result.backupId,
          file: basename(file),
          from: result.from,
          to: result.to,
        });
      results.push(result);
      if (options.json) continue;
      if (result.status === "rewrapped")
        printLine(
          `${file}: re-encrypted from master key ${result.from} to ${result.to} (its data keys wrapped ` +
            `under ${result.to} too), verified`,
        );
      else if (result.status === "current") printLine(`${file}: already under the current master key ${result.to}`);
      else printLine(`${file}: a tenant backup (sealed with tenant ${result.to}'s key); nothing to re-wrap`);
    }
  } catch (error) {
    recordBackupFailed(recorder(services), "rewrap", error);
    throw error;
  } finally {
    services?.close();
  }
  if (options.json) printJson(results);
}

function printReport(report: VerifyReport): void {
  printLine(
    `ok: ${report.kind} backup ${report.backupId}, created ${report.createdAt} by ${report.producer}, ` +
      `installation ${report.installationId}`,
  );
  printLine(
    `  ${report.kind === "full" ? "master key" : "tenant"} ${report.keyOwner}; schema data ` +
      `${report.schema.data}${report.schema.keystore === undefined ? "" : `, keystore ${report.schema.keystore}`}`,
  );
  for (const f of report.files)
    printLine(`  ${f.name}: ${f.size} bytes${f.rows === undefined ? "" : `, ${f.rows} rows`}, sha256 ${f.sha256}`);
  const erasures = report.erasures;
  if (erasures !== undefined)
    printLine(
      `  erasure record: ` +
        (erasures === null
          ? "none (a backup from before backups carried it)"
          : `${erasures.tenants} erased tenants, ${erasures.content} erased nodes and projects`),
    );
}

async function verifyAction(file: string, options: { json?: boolean }): Promise<void> {
  const config = commandConfig();
  const path = resolve(file);
  const { header } = await readBackupHeader(path);
  const { keys, services } = await verificationKeys(config, header.kind);
  const work = await privateWorkDir(config.dataDir, "verify");
  try {
    const report = await verifyBackup(path, keys, work.path, terminalProgress(process.stderr, options.json !== true));
    recordBackupVerified(recorder(services), { backupId: report.backupId, kind: report.kind, file: basename(path) });
    if (options.json) return printJson(report);
    printReport(report);
  } catch (error) {
    recordBackupFailed(recorder(services), "verify", error, header.backupId);
    throw error;
  } finally {
    await work.remove();
    services?.close();
  }
}

async function restoreAction(
  file: string,
  options: { yes?: boolean; forceInstallation?: boolean; erasures?: string[]; json?: boolean },
): Promise<void> {
  const config = commandConfig();
  if (options.yes !== true)
    throw new CliError(
      `restore replaces ${config.databaseFile} and its keystore with the backup's; run again with --yes to confirm`,
      EXIT_REFUSED,
    );
  const report = await restoreBackup(config, { openServices, openKeyResolver }, resolve(file), cliLogger(config), {
    forceInstallation: options.forceInstallation === true,
    erasureFiles: (options.erasures ?? []).map((f) => resolve(f)),
    progress: terminalProgress(process.stderr, options.json !== true),
  });
  if (options.json) return printJson(report);
  printLine(`restored backup ${report.backupId} (created ${report.createdAt}) into ${report.dataDir}`);
  for (const kept of report.previous) printLine(`  previous file kept as ${kept}`);
  for (const source of report.erasureSources) printLine(`  erasures taken from ${source}`);
  if (report.erasedAgain.length > 0)
    printLine(`  erased again (erased here after the backup was taken): ${report.erasedAgain.join(", ")}`);
  if (report.contentErasedAgain.length > 0)
    printLine(
      `  content erased again (erased here after the backup was taken): ` +
        `${report.contentErasedAgain.map((c) => `${c.kind} ${c.id}`).join(", ")}`,
    );
  for (const warning of report.warnings) printLine(`  warning: ${warning}`);
}

async function listAction(options: { dir?: string; json?: boolean }): Promise<void> {
  const config = commandConfig();
  const rows = [];
  for (const file of await listBackupFiles(resolve(options.dir ?? config.backup.dir))) {
    try {
      const { header, bytes } = await readBackupHeader(file);
      rows.push({
        file,
        kind: header.kind,
        backupId: header.backupId,
        createdAt: header.createdAt,
        bytes,
        keyOwner: header.key.type === "master" ? header.key.masterLabel : header.key.tenantId,
      });
    } catch (error) {
      rows.push({ file, error: (error as Error).message });
    }
  }
  if (options.json) return printJson(rows);
  for (const r of rows)
    printLine(
      "error" in r
        ? `${r.file}: ${r.error}`
        : `${r.createdAt}  ${r.kind.padEnd(6)}  ${String(r.bytes).padStart(12)}  ${r.keyOwner}  ${r.file}`,
    );
}

export function backupCommand(program: Command): void {
  const backup = program
    .command("backup")
    .description("encrypted backups: create, verify, restore, list, rewrap (docs/backup.md)");
  backup
    .command("create")
    .description(
      "back up the database and keystore (sealed with the master key), or one tenant's rows (--tenant, " +
        "sealed with that tenant's key)",
    )
    .option("--out <file>", "write to this file (it must not exist)")
    .option("--dir <dir>", "write into this directory under a generated name (default: VECTO_BACKUP_DIR)")
    .option("--tenant <tenant>", "back up one tenant (id or slug) for export or verification")
    .option("--json", "print the result as JSON")
    .action(withExitCodes(createAction));
  backup
    .command("verify")
    .description("check a backup completely (key, every chunk, hashes, database integrity) without restoring it")
    .argument("<file>", "the backup file")
    .option("--json", "print the result as JSON")
    .action(withExitCodes(verifyAction));
  backup
    .command("restore")
    .description("replace the database and keystore with a verified full backup (the service must be stopped)")
    .argument("<file>", "the backup file")
    .option("--yes", "confirm: replace the live files (they are kept as *.pre-restore-<time>)")
    .option("--force-installation", "restore a backup of another installation over this one")
    .option("--erasures <file...>", "also erase again what these erasure records (erased-tenants.json) list")
    .option("--json", "print the result as JSON")
    .action(withExitCodes(restoreAction));
  backup
    .command("rewrap")
    .description(
      "re-encrypt full backups under the current master key (the earlier one loaded via " +
        "VECTO_PREVIOUS_MASTER_KEYS), so the earlier key can be retired",
    )
    .argument("[files...]", "backup files")
    .option("--dir <dir>", "every backup (*.vbak) in this directory")
    .option("--json", "print the results as JSON")
    .action(withExitCodes(rewrapAction));
  backup
    .command("list")
    .description("list the backups in the backup directory (reads headers only; no key needed)")
    .option("--dir <dir>", "directory to list (default: VECTO_BACKUP_DIR)")
    .option("--json", "print as JSON")
    .action(withExitCodes(listAction));
}
