/**
 * Streaming AES-256-GCM in authenticated chunks (the STREAM construction of Hoang, Reyhanitabar,
 * Rogaway and Vizár, "Online Authenticated-Encryption and its Nonce-Reuse Misuse-Resistance").
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
import { AEAD_KEY_BYTES, AEAD_NONCE_BYTES, AEAD_TAG_BYTES } from "../crypto/aead-params.js";
import { BackupInvalidError } from "./errors.js";
import { NONCE_PREFIX_BYTES } from "./format.js";

const ALGORITHM = "aes-256-gcm";
/** 2^32 chunks of at least 4 KiB is 16 TiB: far beyond a backup, and well inside GCM's limits per key. */
const MAX_CHUNKS = 2 ** 32;

export interface ChunkParams {
  readonly key: Uint8Array;
  readonly noncePrefix: Uint8Array;
  readonly headerHash: Uint8Array;
  readonly chunkBytes: number;
}

function checkParams(p: ChunkParams): void {
  if (p.key.length !== AEAD_KEY_BYTES) throw new Error(`file key must be ${AEAD_KEY_BYTES} bytes`);
  if (p.noncePrefix.length !== NONCE_PREFIX_BYTES) throw new Error(`nonce prefix must be ${NONCE_PREFIX_BYTES} bytes`);
  if (p.headerHash.length !== 32) throw new Error("header hash must be 32 bytes");
}

function chunkNonce(p: ChunkParams, index: number): Buffer {
  const nonce = Buffer.alloc(AEAD_NONCE_BYTES);
  nonce.set(p.noncePrefix, 0);
  nonce.writeBigUInt64BE(BigInt(index), NONCE_PREFIX_BYTES);
  return nonce;
}

function chunkAad(p: ChunkParams, index: number, final: boolean): Buffer {
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
function sealChunk(p: ChunkParams, index: number, final: boolean, plaintext: readonly Buffer[]): Buffer[] {
  if (index >= MAX_CHUNKS) throw new Error("backup too large for one file key");
  const cipher = createCipheriv(ALGORITHM, p.key, chunkNonce(p, index), { authTagLength: AEAD_TAG_BYTES });
  cipher.setAAD(chunkAad(p, index, final));
  const out = plaintext.map((piece) => cipher.update(piece));
  const tail = cipher.final();
  if (tail.length > 0) out.push(tail);
  out.push(cipher.getAuthTag());
  return out;
}

/** Opens one chunk; its plaintext pieces are returned only after the tag verified. */
function openChunk(p: ChunkParams, index: number, final: boolean, ciphertext: readonly Buffer[], tag: Buffer): Buffer[] {
  try {
    // authTagLength pins the tag to 16 bytes: OpenSSL would otherwise accept a shortened tag.
    const decipher = createDecipheriv(ALGORITHM, p.key, chunkNonce(p, index), { authTagLength: AEAD_TAG_BYTES });
    decipher.setAuthTag(tag);
    decipher.setAAD(chunkAad(p, index, final));
    const out = ciphertext.map((piece) => decipher.update(piece));
    const tail = decipher.final();
    if (tail.length > 0) out.push(tail);
    return out;
  } catch {
    throw new BackupInvalidError(
      final
        ? `the backup is truncated or modified: its last chunk (${index}) fails authentication`
        : `the backup is modified or corrupt: chunk ${index} fails authentication`,
    );
  }
}

/** A FIFO of byte slices that hands out exact-size pieces without re-copying what stays queued. */
export class ByteQueue {
  #parts: Buffer[] = [];
  #length = 0;

  get length(): number {
    return this.#length;
  }

  push(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.#parts.push(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    this.#length += bytes.length;
  }

  /** Removes the first `n` bytes (n <= length) as views of the queued buffers, without copying. */
  takeParts(n: number): Buffer[] {
    if (n > this.#length) throw new Error("ByteQueue underflow");
    const out: Buffer[] = [];
    let needed = n;
    while (needed > 0) {
      const head = this.#parts[0] as Buffer;
      if (head.length <= needed) {
        out.push(head);
        this.#parts.shift();
        needed -= head.length;
      } else {
        out.push(head.subarray(0, needed));
        this.#parts[0] = head.subarray(needed);
        needed = 0;
      }
    }
    this.#length -= n;
    return out;
  }

  /** Removes and returns the first `n` bytes (n <= length) as one buffer. */
  take(n: number): Buffer {
    const parts = this.takeParts(n);
    return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, n);
  }
}

/** Seals a plaintext stream into chunks. A chunk is emitted once a byte beyond it has arrived, so the last one is known to be last. */
export async function* encryptChunks(source: AsyncIterable<Uint8Array>, p: ChunkParams): AsyncGenerator<Buffer> {
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
 * Opens a chunk stream. A chunk is final exactly when the stream ends right after it; a file cut
 * anywhere therefore fails: inside a chunk (too short, or a wrong tag) or at a boundary (the
 * final flag does not match).
 */
export async function* decryptChunks(source: AsyncIterable<Uint8Array>, p: ChunkParams): AsyncGenerator<Buffer> {
  checkParams(p);
  const sealedBytes = p.chunkBytes + AEAD_TAG_BYTES;
  const queue = new ByteQueue();
  let index = 0;
  for await (const piece of source) {
    queue.push(piece);
    while (queue.length > sealedBytes) yield* openChunk(p, index++, false, queue.takeParts(p.chunkBytes), queue.take(AEAD_TAG_BYTES));
  }
  if (queue.length < AEAD_TAG_BYTES) {
    throw new BackupInvalidError(index === 0 && queue.length === 0 ? "the backup is truncated: it has no encrypted data after the header" : `the backup is truncated: it ends inside chunk ${index}`);
  }
  yield* openChunk(p, index, true, queue.takeParts(queue.length - AEAD_TAG_BYTES), queue.take(AEAD_TAG_BYTES));
}
