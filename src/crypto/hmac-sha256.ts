/**
 * HMAC-SHA256 through node:crypto (OpenSSL): the per-request MACs (audit signatures, blind
 * indexes) are small messages, where @noble/hashes' pure-JS HMAC cost several times more CPU.
 * Returns a plain Uint8Array (a view of the digest), the type every caller stores and compares.
 */
import { createHmac } from "node:crypto";

export function hmacSha256(key: Uint8Array, message: Uint8Array): Uint8Array {
  const digest = createHmac("sha256", key).update(message).digest();
  return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength);
}
