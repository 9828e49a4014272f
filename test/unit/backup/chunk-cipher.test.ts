/**
 * The chunked AES-256-GCM stream: round trips at every size around the chunk boundary, and every
 * way of damaging a stream (flipped byte, flipped tag, swapped or dropped chunks, truncation
 * inside a chunk and exactly at a boundary, appended bytes, another header) fails, without
 * releasing the plaintext of the chunk that failed.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { decryptChunks, encryptChunks, type ChunkParams } from "../../../src/backup/chunk-cipher.js";
import { BackupInvalidError } from "../../../src/backup/errors.js";
import { ByteQueue } from "../../../src/crypto/byte-queue.js";
import { generateFileKey } from "../../../src/crypto/file-key.js";

const CHUNK = 4096;
const SEALED = CHUNK + 16;

function params(overrides: Partial<ChunkParams> = {}): ChunkParams {
  return {
    key: generateFileKey(),
    noncePrefix: new Uint8Array(randomBytes(4)),
    headerHash: new Uint8Array(randomBytes(32)),
    chunkBytes: CHUNK,
    ...overrides,
  };
}

/** Feeds `data` in uneven pieces, as a file stream would. */
async function* pieces(data: Uint8Array, size = 1000): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

async function collect(gen: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const b of gen) out.push(b);
  return Buffer.concat(out);
}

async function seal(plain: Uint8Array, p: ChunkParams): Promise<Buffer> {
  return collect(encryptChunks(pieces(plain, 777), p));
}

/** Decrypts and reports what was released before the failure. */
async function open(sealed: Uint8Array, p: ChunkParams): Promise<{ plain: Buffer; error?: Error }> {
  const out: Buffer[] = [];
  try {
    for await (const b of decryptChunks(pieces(sealed, 1500), p)) out.push(b);
    return { plain: Buffer.concat(out) };
  } catch (error) {
    return { plain: Buffer.concat(out), error: error as Error };
  }
}

describe("chunk cipher", () => {
  it.each([0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 17])("round-trips %i bytes", async (size) => {
    const p = params();
    const plain = randomBytes(size);
    const sealed = await seal(plain, p);
    expect(sealed.length).toBe(size + 16 * Math.max(1, Math.ceil(size / CHUNK)));
    const { plain: back, error } = await open(sealed, p);
    expect(error).toBeUndefined();
    expect(back.equals(plain)).toBe(true);
  });

  it("does not leak plaintext: the same input under two file keys shares no chunk", async () => {
    const plain = Buffer.alloc(2 * CHUNK, 7);
    const [a, b] = [await seal(plain, params()), await seal(plain, params())];
    expect(a.subarray(0, 64).equals(b.subarray(0, 64))).toBe(false);
    expect(a.includes(Buffer.alloc(64, 7))).toBe(false);
  });

  describe("refuses damaged streams", () => {
    const plain = randomBytes(4 * CHUNK + 100); // chunks 0..3 full, chunk 4 final (100 bytes)
    const expectFailure = async (
      sealed: Buffer,
      p: ChunkParams,
      message: RegExp,
      releasedChunks: number,
    ): Promise<void> => {
      const { plain: released, error } = await open(sealed, p);
      expect(error).toBeInstanceOf(BackupInvalidError);
      expect(error?.message).toMatch(message);
      expect(released.equals(plain.subarray(0, releasedChunks * CHUNK))).toBe(true);
    };

    it("a flipped ciphertext byte", async () => {
      const p = params();
      const sealed = await seal(plain, p);
      sealed.writeUInt8(sealed.readUInt8(SEALED * 2 + 10) ^ 0x01, SEALED * 2 + 10);
      await expectFailure(sealed, p, /chunk 2 fails authentication/, 2);
    });

    it("a flipped tag byte", async () => {
      const p = params();
      const sealed = await seal(plain, p);
      sealed.writeUInt8(sealed.readUInt8(SEALED * 2 - 1) ^ 0x80, SEALED * 2 - 1);
      await expectFailure(sealed, p, /chunk 1 fails authentication/, 1);
    });

    it("swapped chunks", async () => {
      const p = params();
      const sealed = await seal(plain, p);
      const swapped = Buffer.concat([
        sealed.subarray(0, SEALED),
        sealed.subarray(2 * SEALED, 3 * SEALED),
        sealed.subarray(SEALED, 2 * SEALED),
        sealed.subarray(3 * SEALED),
      ]);
      await expectFailure(swapped, p, /chunk 1 fails authentication/, 1);
    });

    it("a dropped chunk", async () => {
      const p = params();
      const sealed = await seal(plain, p);
      await expectFailure(
        Buffer.concat([sealed.subarray(0, SEALED), sealed.subarray(2 * SEALED)]),
        p,
        /chunk 1 fails authentication/,
        1,
      );
    });

    it("truncation exactly at a chunk boundary (the cut chunk was not sealed as final)", async () => {
      const p = params();
      const sealed = await seal(plain, p);
      await expectFailure(sealed.subarray(0, 3 * SEALED), p, /truncated or modified: its last chunk \(2\)/, 2);
      await expectFailure(sealed.subarray(0, SEALED), p, /truncated or modified: its last chunk \(0\)/, 0);
    });

    it("truncation inside a chunk, inside a tag, and to nothing", async () => {
      const p = params();
      const sealed = await seal(plain, p);
      await expectFailure(sealed.subarray(0, 2 * SEALED + 1000), p, /last chunk \(2\)/, 2);
      await expectFailure(sealed.subarray(0, 3 * SEALED + 5), p, /ends inside chunk 3/, 3);
      await expectFailure(sealed.subarray(0, sealed.length - 1), p, /last chunk \(4\)/, 4);
      await expectFailure(sealed.subarray(0, 0), p, /no encrypted data/, 0);
    });

    it("appended bytes", async () => {
      const p = params();
      const sealed = await seal(plain, p);
      await expectFailure(Buffer.concat([sealed, Buffer.from([0])]), p, /last chunk \(4\)/, 4);
    });

    it("another header (hash), another nonce prefix, another key", async () => {
      const p = params();
      const sealed = await seal(plain, p);
      for (const other of [
        { headerHash: new Uint8Array(randomBytes(32)) },
        { noncePrefix: new Uint8Array(randomBytes(4)) },
        { key: generateFileKey() },
      ]) {
        await expectFailure(sealed, { ...p, ...other }, /chunk 0 fails authentication/, 0);
      }
    });

    it("a whole stream whose final chunk is full: truncating its last chunk away still fails", async () => {
      const p = params();
      const exact = randomBytes(3 * CHUNK);
      const sealed = await seal(exact, p);
      expect(sealed.length).toBe(3 * SEALED);
      const { error } = await open(sealed.subarray(0, 2 * SEALED), p);
      expect(error?.message).toMatch(/last chunk \(1\)/);
    });
  });

  it("ByteQueue hands out exact pieces across pushes", () => {
    const q = new ByteQueue();
    q.push(Buffer.from("abc"));
    q.push(new Uint8Array([100, 101]));
    q.push(Buffer.from("fgh"));
    expect(q.take(4).toString()).toBe("abcd");
    expect(q.length).toBe(4);
    expect(q.take(4).toString()).toBe("efgh");
    expect(() => q.take(1)).toThrow();
  });
});
