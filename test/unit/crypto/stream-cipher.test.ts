/**
 * The backup stream cipher and file keys, now inside src/crypto, against the bytes the earlier
 * code wrote (src/backup/chunk-cipher.ts before the move): a known-answer stream, a file key wrapped
 * by the master key the earlier way, and one sealed under a tenant's data key the earlier way, all
 * open. The backup's on-disk format did not change. Damaged streams: test/unit/backup/chunk-cipher.test.ts.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { inspect } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CryptoService, type FieldRef } from "../../../src/crypto/crypto-service.js";
import { CryptoParamError, FileKeyError, StreamCipherError } from "../../../src/crypto/errors.js";
import {
  fileKeyFromBytes,
  generateFileKey,
  unwrapFileKey,
  wrapFileKey,
  type FileKey,
} from "../../../src/crypto/file-key.js";
import { EnvKeyResolver, generateMasterKeyFile } from "../../../src/crypto/resolvers/env.js";
import { openStream, sealStream, type StreamParams } from "../../../src/crypto/stream-cipher.js";
import { KeyStore } from "../../../src/db/keystore.js";
import { toHex } from "./helpers.js";
import { tempDir } from "../../helpers.js";

const KEY = (): Uint8Array => new Uint8Array(32).map((_, i) => i);
const PLAIN = new Uint8Array(40).map((_, i) => 100 + i);
/** 40 bytes in chunks of 16 (16 + 16 + 8, each with its tag), sealed by the code before the move. */
const EARLIER_CIPHERTEXT =
  "4530bb3a7ff8121a978af9d4c0b1c51da796e5427277b26f0901dbbe2323ce32a584b149633e10b87444970d5b3a304495a037cdb460c2191b1a1f78c080c5cc0de0c8c3fb0f9ce65da04f3f8ed3a3e05a268d1e8105e8c3";
const AAD = new TextEncoder().encode("backup-file-key");
const ref: FieldRef = { table: "backup", column: "file_key", rowId: "b1" };

function params(key: FileKey): StreamParams {
  return {
    key,
    noncePrefix: new Uint8Array([1, 2, 3, 4]),
    headerHash: new Uint8Array(createHash("sha256").update("vecto backup header").digest()),
    chunkBytes: 16,
  };
}

async function collect(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const piece of stream) out.push(piece);
  return Buffer.concat(out);
}

async function* pieces(bytes: Uint8Array, ...cuts: number[]): AsyncGenerator<Uint8Array> {
  let at = 0;
  for (const cut of [...cuts, bytes.length]) {
    yield bytes.subarray(at, cut);
    at = cut;
  }
}

const opens = async (key: FileKey): Promise<string> =>
  toHex(await collect(openStream(pieces(Buffer.from(EARLIER_CIPHERTEXT, "hex"), 50), params(key))));

let dir: string;
let cleanup: () => void;
let resolver: EnvKeyResolver;
let keystore: KeyStore;
let crypto: CryptoService;

beforeEach(async () => {
  ({ path: dir, cleanup } = tempDir("vecto-crypto-"));
  await generateMasterKeyFile(join(dir, "master.key"));
  resolver = await EnvKeyResolver.fromFile(join(dir, "master.key"));
  keystore = KeyStore.open(join(dir, "keys.db"), { now: () => new Date().toISOString() });
  crypto = new CryptoService(resolver, keystore);
  await crypto.createTenantKey("t1");
});
afterEach(async () => {
  keystore.close();
  cleanup();
});

describe("the stream cipher writes and reads the earlier format", () => {
  it("seals the known answer byte for byte, and opens it", async () => {
    expect(toHex(await collect(sealStream(pieces(PLAIN, 7), params(fileKeyFromBytes(KEY())))))).toBe(
      EARLIER_CIPHERTEXT,
    );
    expect(await opens(fileKeyFromBytes(KEY()))).toBe(toHex(PLAIN));
  });

  it("opens a file key the master key wrapped the earlier way (resolver.wrap of the raw 32 bytes); a new wrap is that format", async () => {
    const earlier = await resolver.wrap(KEY(), AAD);
    expect(await opens(await unwrapFileKey(resolver, earlier, AAD))).toBe(toHex(PLAIN));
    const key = fileKeyFromBytes(KEY());
    expect(toHex(await resolver.unwrap(await wrapFileKey(key, resolver, AAD), AAD))).toBe(toHex(KEY()));
  });

  it("opens a file key sealed under the tenant's data key the earlier way (its base64 as a field); a new seal is that format", async () => {
    const earlier = await crypto.encryptField("t1", ref, Buffer.from(KEY()).toString("base64"));
    expect(await opens(await crypto.openFileKey("t1", ref, earlier))).toBe(toHex(PLAIN));
    const sealed = await crypto.sealFileKey("t1", ref, fileKeyFromBytes(KEY()));
    expect(await crypto.decryptField("t1", ref, sealed)).toBe(Buffer.from(KEY()).toString("base64"));
  });

  it("refuses file keys of the wrong length, wrapped or sealed", async () => {
    await expect(unwrapFileKey(resolver, await resolver.wrap(new Uint8Array(31), AAD), AAD)).rejects.toThrow(
      FileKeyError,
    );
    await expect(
      crypto.openFileKey("t1", ref, await crypto.encryptField("t1", ref, Buffer.alloc(33).toString("base64"))),
    ).rejects.toThrow(FileKeyError);
  });

  it("names where a damaged stream fails", async () => {
    const sealed = Buffer.from(EARLIER_CIPHERTEXT, "hex");
    sealed[3] = (sealed[3] ?? 0) ^ 1;
    const error = await collect(openStream(pieces(sealed), params(fileKeyFromBytes(KEY())))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StreamCipherError);
    expect((error as StreamCipherError).kind).toBe("chunk");
    expect((error as StreamCipherError).index).toBe(0);
  });
});

describe("a file key handle", () => {
  it("shows no key bytes, and is unusable once destroyed", async () => {
    const key = generateFileKey();
    const sealed = await crypto.sealFileKey("t1", ref, key);
    const bytes = Buffer.from(await crypto.decryptField("t1", ref, sealed), "base64");
    expect(Reflect.ownKeys(key)).toEqual([]);
    expect(JSON.stringify(key)).toBe("{}");
    const printed = inspect(key, { showHidden: true, depth: 10, getters: true });
    for (const form of [
      bytes.toString("hex"),
      bytes.toString("base64").slice(0, 16),
      [...bytes.subarray(0, 6)].join(", "),
    ])
      expect(printed).not.toContain(form);
    key.destroy();
    await expect(collect(sealStream(pieces(PLAIN), params(key)))).rejects.toThrow(CryptoParamError);
    await expect(crypto.sealFileKey("t1", ref, key)).rejects.toThrow(CryptoParamError);
  });
});
