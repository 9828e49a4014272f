/**
 * Error types of the crypto layer. Messages are written for operators and logs: they may name
 * files, tenants, key versions and master-key labels (fingerprints), but never key bytes,
 * plaintext or file contents.
 */
import type { Unavailable, UnavailableKind } from "../errors.js";

export class CryptoError extends Error {
  override readonly name: string = "CryptoError";
}

/** A caller passed a key, nonce or version of the wrong shape: a programming error, not bad data. */
export class CryptoParamError extends CryptoError {
  override readonly name: string = "CryptoParamError";
}

/**
 * Authenticated decryption failed (wrong key, wrong AAD, tampered or truncated input). The
 * cause is deliberately not distinguished: telling an attacker which check failed helps them.
 */
export class DecryptError extends CryptoError {
  override readonly name: string = "DecryptError";
  constructor(message = "decryption failed: data is corrupt, tampered, or bound to another key or context") {
    super(message);
  }
}

/**
 * An access token that is not a well-formed JWS of the one shape the product issues, or whose
 * signature does not hold. The message is for logs; clients are told only "unauthorized".
 */
export class JwsError extends CryptoError {
  override readonly name: string = "JwsError";
}

/** A sealed content field is not in a format this version understands. */
export class FieldFormatError extends CryptoError {
  override readonly name: string = "FieldFormatError";
}

/** The master-key file is missing, unsafe or malformed. Names the file, never its content. */
export class KeyFileError extends CryptoError {
  override readonly name: string = "KeyFileError";
}

/** The master key a DEK was wrapped under is not the one loaded (or not reachable at all). */
export class MasterKeyUnavailableError extends CryptoError implements Unavailable {
  override readonly name: string = "MasterKeyUnavailableError";
  readonly unavailable: UnavailableKind = "keys-unavailable";
}

/**
 * The master key a process would wrap a new data key under was retired (by another process,
 * after this one started): a wrap under it would be deleted by nobody and opened by nothing once
 * the key is destroyed, so none is written. The process must be restarted with the current
 * configuration. A MasterKeyUnavailableError, so requests fail closed with 503 keys-unavailable.
 */
export class MasterKeyRetiredError extends MasterKeyUnavailableError {
  override readonly name: string = "MasterKeyRetiredError";
  override readonly unavailable: UnavailableKind = "master-key-retired";
  constructor(readonly masterLabel: string) {
    super(`this server's master key ${masterLabel} was retired; restart it with the current configuration`);
  }
}

/** A wrapped key failed authentication under the right-looking master key: tampered or wrong AAD. */
export class KeyUnwrapError extends DecryptError implements Unavailable {
  override readonly name: string = "KeyUnwrapError";
  readonly unavailable: UnavailableKind = "keys-unavailable";
}

/** A tenant has no usable data key for the requested operation. */
export class TenantKeyError extends CryptoError implements Unavailable {
  override readonly name: string = "TenantKeyError";
  readonly unavailable: UnavailableKind = "keys-unavailable";
}

/**
 * The key for some data cannot be had right now (master key away, wrap does not open, no usable version): fail closed,
 * retry later.
 */
export function isKeyUnavailable(error: unknown): boolean {
  return (
    error instanceof MasterKeyUnavailableError || error instanceof KeyUnwrapError || error instanceof TenantKeyError
  );
}

/**
 * The PKCS#11 side is unusable: library, token, login or key object. `ckr` carries the PKCS#11
 * return code name (e.g. CKR_PIN_INCORRECT) when there is one; messages never carry the PIN.
 */
export class HsmError extends MasterKeyUnavailableError {
  override readonly name: string = "HsmError";
  constructor(
    message: string,
    readonly ckr?: string,
  ) {
    super(message);
  }
}

/** A backup file key of the wrong shape: its wrapped or sealed copy was modified. */
export class FileKeyError extends CryptoError {
  override readonly name: string = "FileKeyError";
}

/**
 * A sealed chunk stream does not open (crypto/stream-cipher.ts). `kind` says where: a chunk fails
 * authentication ("chunk"), the last one does ("final-chunk": truncated at a boundary or modified),
 * the stream ends inside a chunk ("ends-inside"), or holds nothing at all ("empty").
 */
export class StreamCipherError extends CryptoError {
  override readonly name: string = "StreamCipherError";
  constructor(
    readonly kind: "chunk" | "final-chunk" | "ends-inside" | "empty",
    readonly index: number,
  ) {
    super(
      kind === "empty"
        ? "the stream holds no sealed chunk"
        : kind === "ends-inside"
          ? `the stream ends inside chunk ${index}`
          : `chunk ${index} fails authentication`,
    );
  }
}
