/**
 * Backup file keys: a fresh random AES-256 key per backup file, held by an opaque FileKey handle.
 * Outside src/crypto a file key can be generated, wrapped under a master key, sealed under a tenant's
 * data key (CryptoService.sealFileKey), opened again, used by the stream cipher and destroyed; its
 * bytes are never handed out. fileKeyBytes and fileKeyFromBytes are for src/crypto only (index.ts
 * does not export them).
 */
import { randomBytes } from "node:crypto";
import { AEAD_KEY_BYTES } from "./aead-params.js";
import { CryptoParamError, FileKeyError } from "./errors.js";
import type { KeyResolver, WrappedKey } from "./key-resolver.js";

const keyBytes = new WeakMap<FileKey, Uint8Array>();

export class FileKey {
  /** Zeroes the key; any later use throws. */
  destroy(): void {
    keyBytes.get(this)?.fill(0);
    keyBytes.delete(this);
  }

  toJSON(): Record<string, never> {
    return {};
  }
}

/** Takes ownership of `bytes` (32). */
export function fileKeyFromBytes(bytes: Uint8Array): FileKey {
  if (bytes.length !== AEAD_KEY_BYTES) throw new FileKeyError(`a file key is ${AEAD_KEY_BYTES} bytes`);
  const key = new FileKey();
  keyBytes.set(key, bytes);
  return key;
}

export function fileKeyBytes(key: FileKey): Uint8Array {
  const bytes = keyBytes.get(key);
  if (bytes === undefined) throw new CryptoParamError("the file key was destroyed");
  return bytes;
}

export function generateFileKey(): FileKey {
  const random = randomBytes(AEAD_KEY_BYTES);
  const bytes = new Uint8Array(random);
  random.fill(0);
  return fileKeyFromBytes(bytes);
}

/** The file key wrapped under the master key (`aad` binds it to its file). */
export function wrapFileKey(key: FileKey, masterKey: KeyResolver, aad: Uint8Array): Promise<WrappedKey> {
  return masterKey.wrap(fileKeyBytes(key), aad);
}

/**
 * Throws what the master key throws (unavailable, fails authentication), or FileKeyError for a key of the wrong length.
 */
export async function unwrapFileKey(masterKey: KeyResolver, wrapped: WrappedKey, aad: Uint8Array): Promise<FileKey> {
  return fileKeyFromBytes(await masterKey.unwrap(wrapped, aad));
}
