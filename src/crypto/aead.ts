import { nodeAead } from "./aead-node.js";
import type { Aead } from "./aead-params.js";

/** The AES-256-GCM interface is declared in aead-params.ts, which both implementations import. */
export type { Aead };

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
