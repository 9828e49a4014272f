/**
 * Streaming AES-256-GCM in authenticated chunks (the STREAM construction of Hoang, Reyhanitabar,
 * Rogaway and Vizár, "Online Authenticated-Encryption and its Nonce-Reuse Misuse-Resistance"), under
 * a FileKey: the encryption of backup files (src/backup/chunk-cipher.ts names its failures).
 *
 * The plaintext is cut into chunks of `chunkBytes` (the last one shorter, possibly empty); each is
 * sealed on its own as ciphertext || 16-byte tag, with
 *   nonce = noncePrefix (4 random bytes) || chunk index (u64 BE)
 *   AAD   = SHA-256(header) || chunk index (u64 BE) || final flag (1 on the last chunk, else 0).
 * The key is a fresh random file key per backup, so nonces never repeat under one key. Binding
 * the index stops reordering and chunk swaps; binding the header hash stops header edits and
 * splicing chunks from another backup; the final flag stops truncation at a chunk boundary (the
 * chunk that ends a cut file was sealed as non-final and fails as the last one). Plaintext of a
 * chunk is released only after its tag verified. The generators yield pieces (a chunk's
 * ciphertext, then its tag), not one buffer per chunk: see sealChunk.
 */
import { createCipheriv, createDecipheriv } from "node:crypto";
import { ByteQueue } from "./byte-queue.js";
import { AEAD_NONCE_BYTES, AEAD_TAG_BYTES } from "./aead-params.js";
import { CryptoParamError, StreamCipherError } from "./errors.js";
import { fileKeyBytes, type FileKey } from "./file-key.js";

const ALGORITHM = "aes-256-gcm";
export const STREAM_NONCE_PREFIX_BYTES = 4;
export const STREAM_TAG_BYTES = AEAD_TAG_BYTES;
/** 2^32 chunks of at least 4 KiB is 16 TiB: far beyond a backup, and well inside GCM's limits per key. */
const MAX_CHUNKS = 2 ** 32;

export interface StreamParams {
  readonly key: FileKey;
  readonly noncePrefix: Uint8Array;
  readonly headerHash: Uint8Array;
  readonly chunkBytes: number;
}

function checkParams(p: StreamParams): void {
  fileKeyBytes(p.key); // throws for a destroyed key
  if (p.noncePrefix.length !== STREAM_NONCE_PREFIX_BYTES)
    throw new CryptoParamError(`nonce prefix must be ${STREAM_NONCE_PREFIX_BYTES} bytes`);
  if (p.headerHash.length !== 32) throw new CryptoParamError("header hash must be 32 bytes");
}

function chunkNonce(p: StreamParams, index: number): Buffer {
  const nonce = Buffer.alloc(AEAD_NONCE_BYTES);
  nonce.set(p.noncePrefix, 0);
  nonce.writeBigUInt64BE(BigInt(index), STREAM_NONCE_PREFIX_BYTES);
  return nonce;
}

function chunkAad(p: StreamParams, index: number, final: boolean): Buffer {
  const aad = Buffer.alloc(p.headerHash.length + 9);
  aad.set(p.headerHash, 0);
  aad.writeBigUInt64BE(BigInt(index), p.headerHash.length);
  aad[aad.length - 1] = final ? 1 : 0;
  return aad;
}

/**
 * Seals one chunk given as pieces (views into the read buffers, not copied into one): GCM takes
 * its input incrementally, and where memory bandwidth is scarce every 1 MiB copy shows in the
 * backup's MB/s. Returns the ciphertext pieces followed by the tag.
 */
function sealChunk(p: StreamParams, index: number, final: boolean, plaintext: readonly Buffer[]): Buffer[] {
  if (index >= MAX_CHUNKS) throw new CryptoParamError("stream too large for one file key");
  const cipher = createCipheriv(ALGORITHM, fileKeyBytes(p.key), chunkNonce(p, index), {
    authTagLength: AEAD_TAG_BYTES,
  });
  cipher.setAAD(chunkAad(p, index, final));
  const out = plaintext.map((piece) => cipher.update(piece));
  const tail = cipher.final();
  if (tail.length > 0) out.push(tail);
  out.push(cipher.getAuthTag());
  return out;
}

/** Opens one chunk; its plaintext pieces are returned only after the tag verified. */
function openChunk(
  p: StreamParams,
  index: number,
  final: boolean,
  ciphertext: readonly Buffer[],
  tag: Buffer,
): Buffer[] {
  try {
    // authTagLength pins the tag to 16 bytes: OpenSSL would otherwise accept a shortened tag.
    const decipher = createDecipheriv(ALGORITHM, fileKeyBytes(p.key), chunkNonce(p, index), {
      authTagLength: AEAD_TAG_BYTES,
    });
    decipher.setAuthTag(tag);
    decipher.setAAD(chunkAad(p, index, final));
    const out = ciphertext.map((piece) => decipher.update(piece));
    const tail = decipher.final();
    if (tail.length > 0) out.push(tail);
    return out;
  } catch {
    throw new StreamCipherError(final ? "final-chunk" : "chunk", index);
  }
}

/**
 * Seals a plaintext stream into chunks. A chunk is emitted once a byte beyond it has arrived, so the last one is known
 * to be last.
 */
export async function* sealStream(source: AsyncIterable<Uint8Array>, p: StreamParams): AsyncGenerator<Buffer> {
  checkParams(p);
  const queue = new ByteQueue();
  let index = 0;
  for await (const piece of source) {
    queue.push(piece);
    while (queue.length > p.chunkBytes) yield* sealChunk(p, index++, false, queue.takeParts(p.chunkBytes));
  }
  yield* sealChunk(p, index, true, queue.takeParts(queue.length));
}

/**
 * Opens a chunk stream. A chunk is final exactly when the stream ends right after it; a stream cut
 * anywhere therefore fails: inside a chunk (too short, or a wrong tag) or at a boundary (the
 * final flag does not match). Failures are StreamCipherError.
 */
export async function* openStream(source: AsyncIterable<Uint8Array>, p: StreamParams): AsyncGenerator<Buffer> {
  checkParams(p);
  const sealedBytes = p.chunkBytes + AEAD_TAG_BYTES;
  const queue = new ByteQueue();
  let index = 0;
  for await (const piece of source) {
    queue.push(piece);
    while (queue.length > sealedBytes)
      yield* openChunk(p, index++, false, queue.takeParts(p.chunkBytes), queue.take(AEAD_TAG_BYTES));
  }
  if (queue.length < AEAD_TAG_BYTES)
    throw new StreamCipherError(index === 0 && queue.length === 0 ? "empty" : "ends-inside", index);
  yield* openChunk(p, index, true, queue.takeParts(queue.length - AEAD_TAG_BYTES), queue.take(AEAD_TAG_BYTES));
}
