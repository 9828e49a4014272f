import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { CryptoParamError } from "./errors.js";

/**
 * The closed set of sub-key purposes. A new purpose is a code change reviewed here, never an
 * ad-hoc string at a call site: two modules sharing a label would share a key.
 */
export const SUB_KEY_LABELS = [
  "audit-hmac",
  "jwt",
  "release-signoff",
  "backup",
  "setup-token",
  "search-index",
] as const;
export type SubKeyLabel = (typeof SUB_KEY_LABELS)[number];

/** Fixed domain-separation salt (RFC 5869 §3.1 allows a non-secret constant salt). */
export const HKDF_SALT = "vecto/v1";

const MIN_IKM_BYTES = 32;
const MAX_OUTPUT_BYTES = 255 * 32;
const utf8 = new TextEncoder();

/** Raw HKDF-SHA256 (RFC 5869). Exposed for the RFC test vectors; use deriveKey in product code. */
export function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 1 || length > MAX_OUTPUT_BYTES) {
    throw new CryptoParamError(`HKDF output length must be 1..${MAX_OUTPUT_BYTES} bytes`);
  }
  return hkdf(sha256, ikm, salt, info, length);
}

export function isSubKeyLabel(value: string): value is SubKeyLabel {
  return (SUB_KEY_LABELS as readonly string[]).includes(value);
}

/** Derives the sub-key for one purpose from a root secret (salt "vecto/v1", info = label). */
export function deriveKey(ikm: Uint8Array, label: SubKeyLabel, length = 32): Uint8Array {
  // The type already closes the set; the runtime check stops casts and JS callers.
  if (!isSubKeyLabel(label)) throw new CryptoParamError("unknown sub-key label");
  if (ikm.length < MIN_IKM_BYTES) {
    throw new CryptoParamError(`HKDF input key material must be at least ${MIN_IKM_BYTES} bytes`);
  }
  return hkdfSha256(ikm, utf8.encode(HKDF_SALT), utf8.encode(label), length);
}
