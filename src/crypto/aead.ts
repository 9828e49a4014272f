import { nodeAead } from "./aead-node.js";

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

export { AEAD_KEY_BYTES, AEAD_NONCE_BYTES, AEAD_TAG_BYTES } from "./aead-params.js";

/**
 * The hot path uses node:crypto (OpenSSL: AES-NI + carry-less multiply), chosen by measurement.
 * `npm run bench` (seal+open pairs, Node 20.20, shared 2-vCPU AMD EPYC, 3 runs; noisy box, so
 * the ratio matters more than absolute numbers):
 *   64 B    node  50k-120k ops/s ( 3-8 MB/s)     noble 20k-31k ops/s (1.3-2 MB/s)    node/noble 2.4-4.2x
 *   1 KiB   node  69k-86k ops/s  (71-88 MB/s)    noble 5k-13k ops/s  (5.6-13 MB/s)   node/noble 6.8-12.8x
 *   64 KiB  node  2.1k-8.0k ops/s (136-526 MB/s) noble 183-390 ops/s (12-26 MB/s)    node/noble 8-25x
 * noble stays as the independent second implementation the tests cross-check against.
 */
export const aead: Aead = nodeAead;
