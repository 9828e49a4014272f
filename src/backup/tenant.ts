/**
 * Per-tenant backups (`vecto backup create --tenant TID`): every row the tenant owns, one JSON
 * Lines file per table, in the same chunked format as a full backup, but with the file key sealed
 * by that tenant's data key (CryptoService.encryptField, FieldRef backups/file_key/<backup id>)
 * instead of the master key. Content columns stay sealed with the tenant key inside.
 *
 * Consequence, on purpose: erasing the tenant (crypto-shredding its keys) makes every tenant
 * backup of it unreadable, wherever the file went. These backups are for export, portability and
 * verification; they are not restored by `vecto backup restore` (docs/backup.md).
 */
import { randomUUID } from "node:crypto";
import { closeSync, constants as fsc, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import {
  CryptoError,
  DecryptError,
  FileKeyError,
  generateFileKey,
  MasterKeyUnavailableError,
  TenantKeyError,
  type CryptoService,
  type FileKey,
} from "../crypto/index.js";
import { exportTenantRows, type ExportRow } from "../db/repositories/tenant-export.js";
import type { SourceFile } from "./container.js";
import {
  describeFiles,
  newCipherParams,
  PRODUCER,
  writeBackupFile,
  type CreatedBackup,
  type CreateOptions,
} from "./create.js";
import { BackupError, BackupInvalidError } from "./errors.js";
import { privateWorkDir } from "./files.js";
import { tenantFileKeyRef, type BackupHeader } from "./format.js";
import { silentProgress } from "./progress.js";

export interface TenantBackupSource {
  readonly dataDir: string;
  readonly databaseFile: string;
  readonly installationId: string;
  readonly schemaVersion: number;
}

interface TableFile {
  readonly fd: number;
  rows: number;
}

/** Writes each table's rows as JSON Lines into `dir`; returns the files and their row counts. */
function writeTables(
  databaseFile: string,
  tenantId: string,
  dir: string,
): { files: SourceFile[]; rows: Map<string, number> } {
  const open = new Map<string, TableFile>();
  const fileFor = (table: string): TableFile => {
    let entry = open.get(table);
    if (entry === undefined) {
      entry = {
        fd: openSync(join(dir, `${table}.jsonl`), fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600),
        rows: 0,
      };
      open.set(table, entry);
    }
    return entry;
  };
  try {
    const tables = exportTenantRows(databaseFile, tenantId, (table: string, row: ExportRow) => {
      const file = fileFor(table);
      writeSync(file.fd, `${JSON.stringify(row)}\n`);
      file.rows += 1;
    });
    for (const table of tables) fileFor(table); // empty tables get an empty file: "no rows" is a fact too
    return {
      files: tables.map((t) => ({ name: `${t}.jsonl`, path: join(dir, `${t}.jsonl`) })),
      rows: new Map(tables.map((t) => [`${t}.jsonl`, open.get(t)?.rows ?? 0])),
    };
  } finally {
    for (const { fd } of open.values()) closeSync(fd);
  }
}

export async function createTenantBackup(
  source: TenantBackupSource,
  crypto: CryptoService,
  tenant: { id: string; slug: string },
  options: CreateOptions,
): Promise<CreatedBackup> {
  const progress = options.progress ?? silentProgress;
  const work = await privateWorkDir(source.dataDir, "backup");
  const fileKey = generateFileKey();
  try {
    const tables = writeTables(source.databaseFile, tenant.id, work.path);
    const files = await describeFiles(tables.files, progress, tables.rows);
    const backupId = randomUUID();
    const createdAt = (options.now?.() ?? new Date()).toISOString();
    const sealed = await crypto.sealFileKey(tenant.id, tenantFileKeyRef(backupId), fileKey);
    const header: BackupHeader = {
      kind: "tenant",
      backupId,
      createdAt,
      installationId: source.installationId,
      producer: PRODUCER,
      cipher: newCipherParams(options.chunkBytes),
      key: { type: "tenant", tenantId: tenant.id, sealed: Buffer.from(sealed).toString("base64") },
      schema: { data: source.schemaVersion },
      tenant,
      files,
    };
    const bytes = await writeBackupFile(options.out, header, fileKey, tables.files, progress);
    return { file: options.out, backupId, kind: "tenant", createdAt, bytes, files, keyOwner: tenant.id };
  } finally {
    fileKey.destroy();
    await work.remove();
  }
}

/** Opens a tenant backup's file key with the tenant's data key; erasure (no key left) is named as such. */
export async function openTenantFileKey(
  header: BackupHeader,
  crypto: CryptoService,
  installationId: string | null,
  tenantHasKeys?: (tenantId: string) => boolean,
): Promise<FileKey> {
  if (header.key.type !== "tenant") throw new Error("not a tenant backup");
  const tenantId = header.key.tenantId;
  if (installationId !== null && header.installationId !== installationId) {
    throw new BackupInvalidError(
      `this tenant backup was made by installation ${header.installationId}; only that installation ` +
        `holds tenant ${tenantId}'s key`,
    );
  }
  try {
    return await crypto.openFileKey(
      tenantId,
      tenantFileKeyRef(header.backupId),
      Buffer.from(header.key.sealed, "base64"),
    );
  } catch (error) {
    if (error instanceof FileKeyError)
      throw new BackupInvalidError("this backup's file key has the wrong length: the header is modified");
    if (error instanceof TenantKeyError) {
      const why =
        tenantHasKeys?.(tenantId) === true
          ? "the key version that sealed it was retired"
          : "it was erased: its keys were destroyed";
      throw new BackupInvalidError(
        `tenant ${tenantId} has no data key here for this backup (${why}); this tenant backup can no longer be opened`,
      );
    }
    if (error instanceof DecryptError)
      throw new BackupInvalidError(
        `this backup's file key does not open with tenant ${tenantId}'s data key: the header is modified`,
      );
    if (error instanceof MasterKeyUnavailableError)
      throw new BackupError(`cannot reach tenant ${tenantId}'s data key: ${error.message}`);
    if (error instanceof CryptoError)
      throw new BackupInvalidError(`this backup's file key cannot be opened: ${error.message}`);
    throw error;
  }
}
