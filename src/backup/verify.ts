/**
 * `vecto backup verify`: proves a backup can be restored, without restoring it. Checks, in order:
 * the header (magic, version, schema), the file key (unwrapped by the master key, or opened with
 * the tenant's key), every chunk's tag and the final-chunk marker, each file's size and SHA-256,
 * and then the content itself: each database copy passes `PRAGMA integrity_check` and carries
 * the schema versions and installation id the header claims; each JSON Lines file parses and has
 * the row count the header claims. The decrypted files go to a private work dir (inside the data
 * dir) that the caller owns; nothing else is written.
 */
import { createReadStream } from "node:fs";
import { open, readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  DecryptError,
  FileKeyError,
  HsmError,
  MasterKeyUnavailableError,
  STREAM_TAG_BYTES,
  unwrapFileKey,
  type CryptoService,
  type FileKey,
  type KeyResolver,
} from "../crypto/index.js";
import { inspectSnapshot, SnapshotError } from "../db/snapshot.js";
import { decryptChunks } from "./chunk-cipher.js";
import { unpackFiles } from "./container.js";
import { BackupError, BackupInvalidError } from "./errors.js";
import { DATA_FILE, fileKeyAad, KEYSTORE_FILE, readHeader, type BackupHeader, type ParsedHeader } from "./format.js";
import { silentProgress, type Progress } from "./progress.js";
import { openTenantFileKey } from "./tenant.js";

/** What may open a file key: the master key (full backups), the tenant keys of this installation (tenant backups). */
export interface BackupKeys {
  readonly resolver?: KeyResolver;
  readonly crypto?: CryptoService;
  /** This installation's id, when there is one: a tenant backup of another installation is named as such. */
  readonly installationId?: string | null;
  /** Whether a tenant still has keys here: tells an erased tenant from a retired key version. */
  readonly tenantHasKeys?: (tenantId: string) => boolean;
}

export interface VerifyReport {
  readonly file: string;
  readonly ok: true;
  readonly kind: BackupHeader["kind"];
  readonly backupId: string;
  readonly createdAt: string;
  readonly installationId: string;
  readonly producer: string;
  /** Master key label (full) or tenant id (tenant) that opens it. */
  readonly keyOwner: string;
  readonly schema: BackupHeader["schema"];
  readonly files: BackupHeader["files"];
  readonly bytes: number;
  /** Full backups: the size of the erasure record in the header; null for backups written before it existed. */
  readonly erasures?: { readonly tenants: number; readonly content: number } | null;
}

/** Reads only the header: what `vecto backup list` shows, no key needed. */
export async function readBackupHeader(file: string): Promise<ParsedHeader & { bytes: number }> {
  let handle;
  try {
    handle = await open(file, "r");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new BackupError(code === "ENOENT" ? `${file} does not exist` : `cannot read ${file}: ${code ?? "error"}`);
  }
  try {
    const parsed = await readHeader(handle, file);
    return { ...parsed, bytes: (await handle.stat()).size };
  } finally {
    await handle.close();
  }
}

async function unwrapWithMaster(header: BackupHeader, resolver: KeyResolver): Promise<FileKey> {
  if (header.key.type !== "master") throw new Error("not a full backup");
  const label = header.key.masterLabel;
  try {
    return await unwrapFileKey(
      resolver,
      { masterLabel: label, blob: new Uint8Array(Buffer.from(header.key.wrapped, "base64")) },
      fileKeyAad(header),
    );
  } catch (error) {
    if (error instanceof FileKeyError)
      throw new BackupInvalidError("this backup's file key has the wrong length: the header is modified");
    if (error instanceof HsmError)
      throw new BackupError(`cannot reach the master key to open this backup: ${error.message}`);
    if (error instanceof MasterKeyUnavailableError) {
      throw new BackupInvalidError(
        `this backup is encrypted under master key ${label}, but the loaded master key is ` +
          `${resolver.describe().masterLabel}; configure master key ${label} to open it`,
      );
    }
    if (error instanceof DecryptError)
      throw new BackupInvalidError(
        `this backup's file key fails authentication under master key ${label}: the header is modified`,
      );
    throw error;
  }
}

/** The file key of a backup, opened with what `keys` offers. */
export async function openFileKey(header: BackupHeader, keys: BackupKeys): Promise<FileKey> {
  if (header.key.type === "master") {
    if (!keys.resolver) throw new BackupError("a full backup needs the master key (key resolver) to open");
    return unwrapWithMaster(header, keys.resolver);
  }
  if (!keys.crypto)
    throw new BackupError(`a tenant backup needs this installation's keystore to open (tenant ${header.key.tenantId})`);
  return openTenantFileKey(header, keys.crypto, keys.installationId ?? null, keys.tenantHasKeys);
}

/** Decrypts and unpacks the files into `dir`, checking every tag, the final marker, sizes and hashes. */
async function decryptInto(
  file: string,
  parsed: ParsedHeader,
  fileKey: FileKey,
  dir: string,
  progress: Progress,
  total: number,
): Promise<void> {
  const { header } = parsed;
  const sealedChunk = header.cipher.chunkBytes + STREAM_TAG_BYTES;
  async function* counted(): AsyncGenerator<Buffer> {
    for await (const piece of createReadStream(file, {
      start: parsed.dataOffset,
      highWaterMark: sealedChunk,
    }) as AsyncIterable<Buffer>) {
      progress.add(piece.length);
      yield piece;
    }
  }
  progress.start("verifying", total);
  const params = {
    key: fileKey,
    noncePrefix: Buffer.from(header.cipher.noncePrefix, "base64"),
    headerHash: parsed.headerHash,
    chunkBytes: header.cipher.chunkBytes,
  };
  await unpackFiles(decryptChunks(counted(), params), header.files, dir);
  progress.done();
}

function checkDatabase(path: string, what: string, expectedVersion: number | undefined, installationId?: string): void {
  let facts;
  try {
    facts = inspectSnapshot(path, { full: true });
  } catch (error) {
    if (error instanceof SnapshotError)
      throw new BackupInvalidError(`the ${what} in the backup cannot be opened as a database`);
    throw error;
  }
  if (facts.problems.length > 0)
    throw new BackupInvalidError(`the ${what} in the backup fails its integrity check: ${facts.problems[0] ?? ""}`);
  if (facts.schemaVersion !== expectedVersion)
    throw new BackupInvalidError(
      `the ${what} in the backup has schema version ${facts.schemaVersion}, its header says ` +
        `${String(expectedVersion)}: the file is inconsistent`,
    );
  if (installationId !== undefined && facts.installationId !== installationId)
    throw new BackupInvalidError(
      `the ${what} in the backup belongs to installation ${String(facts.installationId)}, its header ` +
        `says ${installationId}`,
    );
}

async function checkJsonLines(path: string, name: string, expectedRows: number | undefined): Promise<void> {
  const text = await readFile(path, "utf8");
  const lines = text === "" ? [] : text.replace(/\n$/, "").split("\n");
  for (const [i, line] of lines.entries()) {
    try {
      JSON.parse(line);
    } catch {
      throw new BackupInvalidError(`${name} in the backup has an unreadable row at line ${i + 1}`);
    }
  }
  if (expectedRows !== undefined && lines.length !== expectedRows)
    throw new BackupInvalidError(`${name} in the backup has ${lines.length} rows, its header says ${expectedRows}`);
}

/** Checks the decrypted content against what the header claims. */
async function checkContent(header: BackupHeader, dir: string): Promise<void> {
  if (header.kind === "full") {
    checkDatabase(join(dir, DATA_FILE), "data database", header.schema.data, header.installationId);
    checkDatabase(join(dir, KEYSTORE_FILE), "keystore", header.schema.keystore);
    return;
  }
  for (const f of header.files) await checkJsonLines(join(dir, f.name), f.name, f.rows);
}

/**
 * Verifies `file` completely, leaving the decrypted, checked files in `dir` (a private work dir
 * the caller created and removes). Throws BackupInvalidError naming the first problem.
 */
export async function verifyBackup(
  file: string,
  keys: BackupKeys,
  dir: string,
  progress: Progress = silentProgress,
): Promise<VerifyReport> {
  return (await verifyBackupFile(file, keys, dir, progress)).report;
}

/** verifyBackup, also returning the verified header (restore needs its erasure record). */
export async function verifyBackupFile(
  file: string,
  keys: BackupKeys,
  dir: string,
  progress: Progress = silentProgress,
): Promise<{ report: VerifyReport; header: BackupHeader }> {
  const parsed = await readBackupHeader(file);
  const { header } = parsed;
  const fileKey = await openFileKey(header, keys);
  try {
    await decryptInto(file, parsed, fileKey, dir, progress, parsed.bytes - parsed.dataOffset);
  } finally {
    fileKey.destroy();
  }
  await checkContent(header, dir);
  const report: VerifyReport = {
    file,
    ok: true,
    kind: header.kind,
    backupId: header.backupId,
    createdAt: header.createdAt,
    installationId: header.installationId,
    producer: header.producer,
    keyOwner: header.key.type === "master" ? header.key.masterLabel : header.key.tenantId,
    schema: header.schema,
    files: header.files,
    bytes: parsed.bytes,
    ...(header.kind === "full"
      ? {
          erasures: header.erasures
            ? { tenants: header.erasures.tenants.length, content: header.erasures.content.length }
            : null,
        }
      : {}),
  };
  return { report, header };
}
