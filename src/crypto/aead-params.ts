import { CryptoParamError } from "./errors.js";

// Kept apart from aead.ts so the implementations never import aead.ts at run time (no cycle).
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
