import { CryptoParamError } from "./errors.js";

// Kept apart from aead.ts so the implementations never import aead.ts, not even for a type (no cycle).
/**
 * AES-256-GCM with a 96-bit nonce and a 128-bit tag. Two implementations exist (aead-noble.ts,
 * aead-node.ts); both are checked against NIST vectors and each other in test/unit/crypto.
 */
export interface Aead {
  readonly name: string;
  /** Returns ciphertext || 16-byte tag. */
  seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array;
  /** Input is ciphertext || 16-byte tag. Throws DecryptError on any authentication failure. */
  open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array;
}

export const AEAD_KEY_BYTES = 32;
export const AEAD_NONCE_BYTES = 12;
export const AEAD_TAG_BYTES = 16;

/** Shared argument checks so both AEAD implementations reject exactly the same inputs. */
export function checkKeyAndNonce(key: Uint8Array, nonce: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length !== AEAD_KEY_BYTES) {
    throw new CryptoParamError(`AES-256-GCM key must be ${AEAD_KEY_BYTES} bytes`);
  }
  if (!(nonce instanceof Uint8Array) || nonce.length !== AEAD_NONCE_BYTES) {
    throw new CryptoParamError(`AES-256-GCM nonce must be ${AEAD_NONCE_BYTES} bytes`);
  }
}
