/**
 * The encrypted part of a backup file: the container (container.ts) sealed in authenticated chunks
 * by src/crypto's stream cipher (crypto/stream-cipher.ts, which describes the construction) under
 * the backup's file key. This module only names the stream's failures as problems of the backup;
 * the key and the cipher stay in src/crypto.
 */
import { openStream, sealStream, StreamCipherError, type StreamParams } from "../crypto/index.js";
import { BackupInvalidError } from "./errors.js";

export type ChunkParams = StreamParams;

/** Seals a plaintext stream into chunks. */
export function encryptChunks(source: AsyncIterable<Uint8Array>, p: ChunkParams): AsyncGenerator<Buffer> {
  return sealStream(source, p);
}

/**
 * Opens a chunk stream; plaintext of a chunk is released only after its tag verified. A file cut
 * anywhere fails: inside a chunk (too short, or a wrong tag) or at a boundary (the final flag does
 * not match).
 */
export async function* decryptChunks(source: AsyncIterable<Uint8Array>, p: ChunkParams): AsyncGenerator<Buffer> {
  try {
    yield* openStream(source, p);
  } catch (error) {
    if (error instanceof StreamCipherError) throw new BackupInvalidError(problem(error));
    throw error;
  }
}

function problem(error: StreamCipherError): string {
  switch (error.kind) {
    case "final-chunk":
      return `the backup is truncated or modified: its last chunk (${error.index}) fails authentication`;
    case "chunk":
      return `the backup is modified or corrupt: chunk ${error.index} fails authentication`;
    case "ends-inside":
      return `the backup is truncated: it ends inside chunk ${error.index}`;
    case "empty":
      return "the backup is truncated: it has no encrypted data after the header";
  }
}
