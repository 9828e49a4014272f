/**
 * The erasure record a full backup carries in its header (format.ts), read so that it can be
 * trusted without decrypting the whole backup: the header is authenticated by every chunk (its
 * SHA-256 is in each chunk's AAD), so unwrapping the file key and opening the first chunk proves
 * that no header byte, the record included, was changed since the backup was written. That costs
 * one unwrap and one chunk (1 MiB by default) per backup, whatever its size.
 */
import { createReadStream } from "node:fs";
import { STREAM_TAG_BYTES, type KeyResolver } from "../crypto/index.js";
import { decryptChunks } from "./chunk-cipher.js";
import type { ErasureRecord } from "./erasures.js";
import { BackupInvalidError } from "./errors.js";
import type { BackupHeader, ParsedHeader } from "./format.js";
import { openFileKey, readBackupHeader } from "./verify.js";

/** Opens the first chunk: throws BackupInvalidError when the header (or that chunk) was modified. */
export async function authenticateHeader(file: string, parsed: ParsedHeader, resolver: KeyResolver): Promise<void> {
  const { header } = parsed;
  const fileKey = await openFileKey(header, { resolver });
  try {
    // One byte beyond the first sealed chunk tells a first chunk from a final one.
    const end = parsed.dataOffset + header.cipher.chunkBytes + STREAM_TAG_BYTES;
    const stream = createReadStream(file, { start: parsed.dataOffset, end });
    const chunks = decryptChunks(stream as AsyncIterable<Buffer>, {
      key: fileKey,
      noncePrefix: Buffer.from(header.cipher.noncePrefix, "base64"),
      headerHash: parsed.headerHash,
      chunkBytes: header.cipher.chunkBytes,
    });
    try {
      const first = await chunks.next();
      if (first.done === true) throw new BackupInvalidError(`${file} has no encrypted data after its header`);
    } finally {
      await chunks.return(undefined);
      stream.destroy();
    }
  } finally {
    fileKey.destroy();
  }
}

export interface EmbeddedErasures {
  readonly header: BackupHeader;
  /** null: a backup written before backups carried the record. */
  readonly record: ErasureRecord | null;
}

/** The header of a full backup and its erasure record, authenticated. Throws BackupError naming the file. */
export async function readEmbeddedErasures(file: string, resolver: KeyResolver): Promise<EmbeddedErasures> {
  const parsed = await readBackupHeader(file);
  const { header } = parsed;
  if (header.kind !== "full") return { header, record: null };
  try {
    await authenticateHeader(file, parsed, resolver);
  } catch (error) {
    if (error instanceof BackupInvalidError && !error.message.includes(file))
      throw new BackupInvalidError(`${file}: ${error.message}`);
    throw error;
  }
  return { header, record: header.erasures ?? null };
}
