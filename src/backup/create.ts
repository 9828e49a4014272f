/**
 * `vecto backup create` (full): a consistent snapshot of the data database and the keystore,
 * taken while the appliance serves, encrypted into one file under a fresh random file key. The
 * file key is wrapped by the master key through the KeyResolver, with AAD binding the format
 * version and backup id. With an HSM the master key cannot be used to derive anything outside
 * the token, so "a key derived from the master key" is realised as "a random key only the master
 * key can unwrap": the same guarantee (no master key, no backup), and it works for every resolver.
 *
 * Every full backup carries the erasure record (erasures.ts) in its header: what the snapshot's
 * audit log says was erased, with the record files of the data directory and of the backup's
 * directory. Both files are brought up to date first, so the copy next to the backups is never
 * older than the newest backup there; a record that cannot be read or written fails the backup.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { generateFileKey, wrapFileKey, type FileKey, type KeyResolver } from "../crypto/index.js";
import { inspectSnapshot, readLiveFacts, snapshotDatabases, type SnapshotProgress } from "../db/snapshot.js";
import { VERSION } from "../version.js";
import { encryptChunks } from "./chunk-cipher.js";
import { hashFile, packFiles, type SourceFile } from "./container.js";
import { ERASED_FILE, mergeRecords, readErasureRecord, recordErasures, type ErasureRecord } from "./erasures.js";
import { BackupError } from "./errors.js";
import { privateWorkDir, writeNewFileAtomically } from "./files.js";
import {
  DATA_FILE,
  DEFAULT_CHUNK_BYTES,
  encodeHeader,
  fileKeyAad,
  hashHeader,
  KEYSTORE_FILE,
  NONCE_PREFIX_BYTES,
  type BackupFileEntry,
  type BackupHeader,
} from "./format.js";
import { silentProgress, type Progress } from "./progress.js";

export interface BackupSource {
  readonly dataDir: string;
  readonly databaseFile: string;
  readonly keystoreFile: string;
}

export interface CreateOptions {
  /** The backup file to write; must not exist. */
  readonly out: string;
  readonly progress?: Progress;
  /** Plaintext bytes per chunk (tests use small chunks to get many). */
  readonly chunkBytes?: number;
  readonly now?: () => Date;
}

export interface CreatedBackup {
  readonly file: string;
  readonly backupId: string;
  readonly kind: BackupHeader["kind"];
  readonly createdAt: string;
  /** Size of the backup file. */
  readonly bytes: number;
  readonly files: readonly BackupFileEntry[];
  /** The master key that wrapped the file key (full backups) or the tenant (tenant backups). */
  readonly keyOwner: string;
  /** Full backups: how many erased tenants and erased items its erasure record holds. */
  readonly erasures?: { readonly tenants: number; readonly content: number };
}

export const PRODUCER = `vecto ${VERSION}`;

/** Hashes the files (a first pass) so the header can name each one's SHA-256 and size. */
export async function describeFiles(
  files: readonly SourceFile[],
  progress: Progress,
  rows?: ReadonlyMap<string, number>,
): Promise<BackupFileEntry[]> {
  let total = 0;
  for (const file of files) total += (await stat(file.path)).size;
  progress.start("hashing", total);
  const entries: BackupFileEntry[] = [];
  for (const file of files) {
    const { sha256, size } = await hashFile(file.path, (n) => progress.add(n));
    const count = rows?.get(file.name);
    entries.push({ name: file.name, size, sha256, ...(count === undefined ? {} : { rows: count }) });
  }
  progress.done();
  return entries;
}

/** The common tail of full and tenant backups: header, then the container sealed in chunks, published atomically. */
export async function writeBackupFile(
  out: string,
  header: BackupHeader,
  fileKey: FileKey,
  sources: readonly SourceFile[],
  progress: Progress,
): Promise<number> {
  const encoded = encodeHeader(header);
  const params = {
    key: fileKey,
    noncePrefix: Buffer.from(header.cipher.noncePrefix, "base64"),
    headerHash: hashHeader(encoded),
    chunkBytes: header.cipher.chunkBytes,
  };
  progress.start(
    "encrypting",
    header.files.reduce((sum, f) => sum + f.size, 0),
  );
  async function* content(): AsyncGenerator<Uint8Array> {
    yield encoded;
    yield* encryptChunks(
      packFiles(sources, (n) => progress.add(n)),
      params,
    );
  }
  const bytes = await writeNewFileAtomically(out, content());
  progress.done();
  return bytes;
}

export function newCipherParams(chunkBytes: number | undefined): BackupHeader["cipher"] {
  return {
    algorithm: "AES-256-GCM",
    chunkBytes: chunkBytes ?? DEFAULT_CHUNK_BYTES,
    noncePrefix: randomBytes(NONCE_PREFIX_BYTES).toString("base64"),
  };
}

/** Shows the data database's copy (the keystore is small) as the "snapshot" step. */
function snapshotProgress(progress: Progress): { onProgress: (p: SnapshotProgress) => void; finish: () => void } {
  let shown = -1;
  let total = 0;
  return {
    onProgress(p) {
      if (p.file !== "data") return;
      if (shown < 0) progress.start("snapshot", (total = p.totalBytes));
      progress.add(p.copiedBytes - Math.max(shown, 0));
      shown = p.copiedBytes;
    },
    finish() {
      if (shown < 0) return;
      progress.add(total - shown);
      progress.done();
    },
  };
}

/**
 * The snapshot's erasures joined with the record files next to the data and next to the backup, which are updated to
 * the join.
 */
async function erasureRecord(source: BackupSource, snapshotFile: string, out: string): Promise<ErasureRecord> {
  const facts = readLiveFacts(snapshotFile);
  const files = [...new Set([join(source.dataDir, ERASED_FILE), join(dirname(out), ERASED_FILE)])];
  const known: ErasureRecord[] = [];
  for (const file of files) known.push(await readErasureRecord(file));
  const record = mergeRecords({ tenants: facts.erasedTenants, content: facts.erasedContent }, ...known);
  for (const file of files) await recordErasures(file, record.tenants, record.content);
  return record;
}

async function snapshot(
  source: BackupSource,
  dir: string,
  progress: Progress,
): Promise<{ files: SourceFile[]; dataVersion: number; keystoreVersion: number; installationId: string }> {
  const files = [
    { name: DATA_FILE, path: join(dir, DATA_FILE) },
    { name: KEYSTORE_FILE, path: join(dir, KEYSTORE_FILE) },
  ];
  const shown = snapshotProgress(progress);
  await snapshotDatabases(
    { databaseFile: source.databaseFile, keystoreFile: source.keystoreFile },
    { databaseFile: join(dir, DATA_FILE), keystoreFile: join(dir, KEYSTORE_FILE) },
    shown.onProgress,
  );
  shown.finish();
  const data = inspectSnapshot(join(dir, DATA_FILE), { full: false });
  const keys = inspectSnapshot(join(dir, KEYSTORE_FILE), { full: false });
  if (data.installationId === null)
    throw new BackupError(`${source.databaseFile} has no installation record; is it a Vecto database?`);
  return {
    files,
    dataVersion: data.schemaVersion,
    keystoreVersion: keys.schemaVersion,
    installationId: data.installationId,
  };
}

/**
 * Creates a full backup at options.out. The snapshots live in a private work dir inside the data dir and are removed
 * afterwards.
 */
export async function createFullBackup(
  source: BackupSource,
  resolver: KeyResolver,
  options: CreateOptions,
): Promise<CreatedBackup> {
  const progress = options.progress ?? silentProgress;
  const work = await privateWorkDir(source.dataDir, "backup");
  const fileKey = generateFileKey();
  try {
    const snap = await snapshot(source, work.path, progress);
    const erasures = await erasureRecord(source, join(work.path, DATA_FILE), options.out);
    const files = await describeFiles(snap.files, progress);
    const backupId = randomUUID();
    const createdAt = (options.now?.() ?? new Date()).toISOString();
    const wrapped = await wrapFileKey(fileKey, resolver, fileKeyAad({ kind: "full", backupId }));
    const header: BackupHeader = {
      kind: "full",
      backupId,
      createdAt,
      installationId: snap.installationId,
      producer: PRODUCER,
      cipher: newCipherParams(options.chunkBytes),
      key: { type: "master", masterLabel: wrapped.masterLabel, wrapped: Buffer.from(wrapped.blob).toString("base64") },
      schema: { data: snap.dataVersion, keystore: snap.keystoreVersion },
      files,
      erasures,
    };
    const bytes = await writeBackupFile(options.out, header, fileKey, snap.files, progress);
    return {
      file: options.out,
      backupId,
      kind: "full",
      createdAt,
      bytes,
      files,
      keyOwner: wrapped.masterLabel,
      erasures: { tenants: erasures.tenants.length, content: erasures.content.length },
    };
  } finally {
    fileKey.destroy();
    await work.remove();
  }
}
