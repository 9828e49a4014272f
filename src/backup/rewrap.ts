/**
 * `vecto backup rewrap`: moves full backups from an earlier master key to the current one, so the
 * earlier key can be retired and destroyed without making those backups unreadable
 * (docs/backup.md, docs/key-rotation.md). `vecto keys retire-master` refuses while the backup
 * directory holds a backup only the key being retired opens (backupsUnderMaster).
 *
 * Two things are under the earlier key: the backup's file key, and the data keys in the keystore
 * the backup holds (a backup taken before the rotation has them wrapped under the earlier key
 * only). So the backup is opened with the earlier key (loaded through VECTO_PREVIOUS_MASTER_KEYS)
 * and verified completely into a private work dir; the copies are opened like the appliance
 * would (migrated forward to this build's schema, as a restore would) and every data key is
 * wrapped under the current key too; then the backup is written again under a NEW random file
 * key wrapped by the current key, with a new nonce prefix (a fresh key keeps GCM's rule: no
 * (key, nonce) pair ever seals two different messages). Backup id, creation time, installation
 * and erasure record stay as they were. The new file is written beside the old one, verified
 * completely, and only then renamed over it (atomic; the directory is fsynced).
 */
import { randomBytes } from "node:crypto";
import { rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Config } from "../config.js";
import { generateFileKey, wrapFileKey, type MasterKeyRing } from "../crypto/index.js";
import { inspectSnapshot } from "../db/snapshot.js";
import { wrapUnderLoadedMasters } from "../key-admin/rotation.js";
import type { Logger } from "../log.js";
import { describeFiles, newCipherParams, PRODUCER, writeBackupFile } from "./create.js";
import { fsyncDir, privateWorkDir } from "./files.js";
import { DATA_FILE, fileKeyAad, KEYSTORE_FILE, type BackupHeader } from "./format.js";
import { silentProgress } from "./progress.js";
import { backupFilesIn } from "./retention.js";
import { readBackupHeader, verifyBackup } from "./verify.js";
import type { BackupWiring } from "./wiring.js";

export interface RewrapResult {
  readonly file: string;
  readonly backupId: string;
  /**
   * rewrapped; current: already under the current master key; tenant: a tenant backup (sealed by its tenant's key,
   * nothing to do).
   */
  readonly status: "rewrapped" | "current" | "tenant";
  readonly from: string;
  readonly to: string;
}

/**
 * The full backups in `dir` whose file key is wrapped under master key `label` (files whose header cannot be read are
 * not listed).
 */
export async function backupsUnderMaster(dir: string, label: string): Promise<string[]> {
  const out: string[] = [];
  for (const file of await backupFilesIn(dir)) {
    try {
      const { header } = await readBackupHeader(file);
      if (header.key.type === "master" && header.key.masterLabel === label) out.push(file);
    } catch {
      // Not a backup this build reads: not one the key decides about either.
    }
  }
  return out;
}

/** The one line `vecto keys retire-master` refuses with. */
export function backupsUnderMasterRefusal(label: string, dir: string, files: readonly string[]): string {
  const named =
    files
      .slice(0, 3)
      .map((f) => basename(f))
      .join(", ") + (files.length > 3 ? `, and ${files.length - 3} more` : "");
  return (
    `refusing to retire master key ${label}: ${files.length} backup(s) in ${dir} are encrypted under it ` +
    `(${named}); run "vecto backup rewrap --dir ${dir}" with the key still loaded, or keep the key as long ` +
    `as you keep those backups`
  );
}

/**
 * Opens the decrypted copies like the appliance would and wraps every data key in their keystore under each loaded
 * master key (the current one included).
 */
async function wrapCopiedKeystore(
  config: Config,
  wiring: BackupWiring,
  dir: string,
  log: Logger,
): Promise<{ data: number; keystore: number }> {
  const services = await wiring.openServices({ ...config, databaseFile: join(dir, DATA_FILE) }, log);
  try {
    await wrapUnderLoadedMasters(services.keyAdmin);
  } finally {
    services.close();
  }
  for (const side of ["-wal", "-shm"])
    for (const name of [DATA_FILE, KEYSTORE_FILE]) await rm(join(dir, name + side), { force: true });
  return {
    data: inspectSnapshot(join(dir, DATA_FILE), { full: false }).schemaVersion,
    keystore: inspectSnapshot(join(dir, KEYSTORE_FILE), { full: false }).schemaVersion,
  };
}

async function verifyInto(file: string, ring: MasterKeyRing, dataDir: string): Promise<void> {
  const work = await privateWorkDir(dataDir, "rewrap-verify");
  try {
    await verifyBackup(file, { resolver: ring }, work.path);
  } finally {
    await work.remove();
  }
}

/**
 * Re-encrypts one backup under the current master key of `ring` (see the file comment). The work dirs are private,
 * inside the data dir.
 */
export async function rewrapBackup(
  file: string,
  config: Config,
  wiring: BackupWiring,
  ring: MasterKeyRing,
  log: Logger,
): Promise<RewrapResult> {
  const { header } = await readBackupHeader(file);
  if (header.key.type !== "master")
    return { file, backupId: header.backupId, status: "tenant", from: header.key.tenantId, to: header.key.tenantId };
  const from = header.key.masterLabel;
  if (from === ring.currentLabel) return { file, backupId: header.backupId, status: "current", from, to: from };
  const work = await privateWorkDir(config.dataDir, "rewrap");
  const fileKey = generateFileKey();
  const tmp = join(dirname(file), `.${basename(file)}.rewrap-${randomBytes(4).toString("hex")}`);
  try {
    await verifyBackup(file, { resolver: ring }, work.path);
    const schema = await wrapCopiedKeystore(config, wiring, work.path, log);
    const sources = [DATA_FILE, KEYSTORE_FILE].map((name) => ({ name, path: join(work.path, name) }));
    const files = await describeFiles(sources, silentProgress);
    const wrapped = await wrapFileKey(fileKey, ring, fileKeyAad(header));
    const next: BackupHeader = {
      ...header,
      producer: PRODUCER,
      cipher: newCipherParams(header.cipher.chunkBytes),
      key: { type: "master", masterLabel: wrapped.masterLabel, wrapped: Buffer.from(wrapped.blob).toString("base64") },
      schema,
      files,
    };
    await writeBackupFile(tmp, next, fileKey, sources, silentProgress);
    await verifyInto(tmp, ring, config.dataDir);
    await rename(tmp, file);
    await fsyncDir(dirname(file));
    return { file, backupId: header.backupId, status: "rewrapped", from, to: wrapped.masterLabel };
  } finally {
    fileKey.destroy();
    await rm(tmp, { force: true });
    await work.remove();
  }
}
