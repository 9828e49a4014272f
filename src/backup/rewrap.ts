/**
 * `vecto backup rewrap`: moves full backups from an earlier master key to the current one, so the
 * earlier key can be retired and destroyed without making those backups unreadable
 * (docs/backup.md, docs/key-rotation.md). `vecto keys retire-master` refuses while the backup
 * directory holds a backup only the key being retired opens (backupsUnderMaster).
 *
 * The file key is opened with the earlier key (loaded through VECTO_PREVIOUS_MASTER_KEYS) and the
 * backup re-encrypted under a NEW random file key wrapped by the current key, with a new nonce
 * prefix. Re-encrypting is unavoidable (the header, wrapped key included, is in every chunk's
 * AAD), and a fresh key keeps GCM's rule: no (key, nonce) pair ever seals two different messages.
 * The backup id, creation time, files and erasure record stay as they were. The new file is
 * written beside the old one, verified completely (every chunk, hash and integrity check) and
 * only then renamed over it (atomic; the directory is fsynced).
 */
import { randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { readdir, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { AEAD_KEY_BYTES } from "../crypto/aead-params.js";
import type { MasterKeyRing } from "../crypto/master-key-ring.js";
import { decryptChunks, encryptChunks } from "./chunk-cipher.js";
import { newCipherParams } from "./create.js";
import { fsyncDir, privateWorkDir, writeNewFileAtomically } from "./files.js";
import { encodeHeader, fileKeyAad, hashHeader, type BackupHeader, type ParsedHeader } from "./format.js";
import { BACKUP_EXTENSION } from "./retention.js";
import { openFileKey, readBackupHeader, verifyBackup } from "./verify.js";

export interface RewrapResult {
  readonly file: string;
  readonly backupId: string;
  /** rewrapped; current: already under the current master key; tenant: a tenant backup (sealed by its tenant's key, nothing to do). */
  readonly status: "rewrapped" | "current" | "tenant";
  readonly from: string;
  readonly to: string;
}

/** The backup files (*.vbak) directly in `dir`, sorted by name; none when it does not exist. */
export async function backupFilesIn(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries.filter((e) => e.isFile() && e.name.endsWith(BACKUP_EXTENSION)).map((e) => join(dir, e.name)).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
}

/** The full backups in `dir` whose file key is wrapped under master key `label` (files whose header cannot be read are not listed). */
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
  const named = files.slice(0, 3).map((f) => basename(f)).join(", ") + (files.length > 3 ? `, and ${files.length - 3} more` : "");
  return `refusing to retire master key ${label}: ${files.length} backup(s) in ${dir} are encrypted under it (${named}); run "vecto backup rewrap --dir ${dir}" with the key still loaded, or keep the key as long as you keep those backups`;
}

async function* reencrypted(file: string, parsed: ParsedHeader, oldKey: Uint8Array, next: { header: BackupHeader; key: Uint8Array }): AsyncGenerator<Uint8Array> {
  const encoded = encodeHeader(next.header);
  yield encoded;
  const old = parsed.header.cipher;
  const plaintext = decryptChunks(createReadStream(file, { start: parsed.dataOffset }) as AsyncIterable<Buffer>, { key: oldKey, noncePrefix: Buffer.from(old.noncePrefix, "base64"), headerHash: parsed.headerHash, chunkBytes: old.chunkBytes });
  const cipher = next.header.cipher;
  yield* encryptChunks(plaintext, { key: next.key, noncePrefix: Buffer.from(cipher.noncePrefix, "base64"), headerHash: hashHeader(encoded), chunkBytes: cipher.chunkBytes });
}

/** Re-encrypts one backup under the current master key of `ring` (see the file comment). `dataDir` hosts the private verification work dir. */
export async function rewrapBackup(file: string, ring: MasterKeyRing, dataDir: string): Promise<RewrapResult> {
  const parsed = await readBackupHeader(file);
  const { header } = parsed;
  if (header.key.type !== "master") return { file, backupId: header.backupId, status: "tenant", from: header.key.tenantId, to: header.key.tenantId };
  const from = header.key.masterLabel;
  if (from === ring.currentLabel) return { file, backupId: header.backupId, status: "current", from, to: from };
  const oldKey = await openFileKey(header, { resolver: ring });
  const newKey = new Uint8Array(randomBytes(AEAD_KEY_BYTES));
  const tmp = join(dirname(file), `.${basename(file)}.rewrap-${randomBytes(4).toString("hex")}`);
  try {
    const wrapped = await ring.wrap(newKey, fileKeyAad(header));
    const next: BackupHeader = { ...header, cipher: newCipherParams(header.cipher.chunkBytes), key: { type: "master", masterLabel: wrapped.masterLabel, wrapped: Buffer.from(wrapped.blob).toString("base64") } };
    await writeNewFileAtomically(tmp, reencrypted(file, parsed, oldKey, { header: next, key: newKey }));
    const work = await privateWorkDir(dataDir, "rewrap");
    try {
      await verifyBackup(tmp, { resolver: ring }, work.path);
    } finally {
      await work.remove();
    }
    await rename(tmp, file);
    await fsyncDir(dirname(file));
    return { file, backupId: header.backupId, status: "rewrapped", from, to: wrapped.masterLabel };
  } finally {
    oldKey.fill(0);
    newKey.fill(0);
    await rm(tmp, { force: true });
  }
}
