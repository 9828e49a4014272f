/** Opaque bearer secrets (refresh tokens, access tokens, setup tokens): random, and stored only as SHA-256. */
import { createHash, randomBytes } from "node:crypto";

/** 256 bits, base64url: unguessable, so a plain SHA-256 is the right stored form (no salt or KDF needed). */
export function newOpaqueSecret(): string {
  return randomBytes(32).toString("base64url");
}

export function secretHash(secret: string): Uint8Array {
  return createHash("sha256").update(secret, "utf8").digest();
}
