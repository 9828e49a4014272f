/**
 * Ed25519 public keys and signatures for licenses and usage reports, on node:crypto only (no
 * native addon), so the vendor's tool (licensing/) shares it. Keys travel as the raw 32 bytes in
 * base64, or as an SPKI PEM; a key id is the first 16 hex digits of SHA-256 of the raw key.
 */
import { createHash, createPublicKey, sign as nodeSign, verify as nodeVerify, type KeyObject } from "node:crypto";

export const ED25519_PUBLIC_KEY_BYTES = 32;
export const ED25519_SIGNATURE_BYTES = 64;
// The DER header that turns a raw 32-byte Ed25519 public key into an SPKI structure.
const SPKI_ED25519_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

export class KeyFormatError extends Error {
  override readonly name = "KeyFormatError";
}

/** Standard base64 with padding, decoded strictly (Buffer.from alone skips bad characters). */
export function decodeBase64Strict(text: string): Buffer | null {
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text)) return null;
  const bytes = Buffer.from(text, "base64");
  return bytes.toString("base64") === text ? bytes : null;
}

export function keyIdOf(rawPublicKey: Uint8Array): string {
  return createHash("sha256").update(rawPublicKey).digest("hex").slice(0, 16);
}

export function publicKeyObject(rawPublicKey: Uint8Array): KeyObject {
  if (rawPublicKey.length !== ED25519_PUBLIC_KEY_BYTES) throw new KeyFormatError(`an Ed25519 public key is ${ED25519_PUBLIC_KEY_BYTES} bytes`);
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, rawPublicKey]), format: "der", type: "spki" });
}

export function rawPublicKey(key: KeyObject): Uint8Array {
  if (key.asymmetricKeyType !== "ed25519") throw new KeyFormatError("not an Ed25519 key");
  const der = key.export({ format: "der", type: "spki" });
  return new Uint8Array(der.subarray(der.length - ED25519_PUBLIC_KEY_BYTES));
}

/** Raw 32 bytes in base64, or an SPKI PEM ("-----BEGIN PUBLIC KEY-----"). */
export function parsePublicKey(text: string): Uint8Array {
  const trimmed = text.trim();
  if (trimmed.startsWith("-----BEGIN PUBLIC KEY-----")) {
    try {
      return rawPublicKey(createPublicKey({ key: trimmed, format: "pem" }));
    } catch (error) {
      throw new KeyFormatError(`not an Ed25519 public key in PEM: ${(error as Error).message}`);
    }
  }
  const raw = decodeBase64Strict(trimmed);
  if (raw === null || raw.length !== ED25519_PUBLIC_KEY_BYTES) throw new KeyFormatError(`expected an Ed25519 public key: ${ED25519_PUBLIC_KEY_BYTES} bytes in base64, or an SPKI PEM`);
  return new Uint8Array(raw);
}

export function encodePublicKey(rawPublicKey: Uint8Array): string {
  return Buffer.from(rawPublicKey).toString("base64");
}

export function signEd25519(privateKey: KeyObject, message: Uint8Array): Uint8Array {
  return new Uint8Array(nodeSign(null, message, privateKey));
}

/** False for any malformed input; never throws on attacker-controlled bytes. */
export function verifyEd25519(rawPublicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== ED25519_SIGNATURE_BYTES || rawPublicKey.length !== ED25519_PUBLIC_KEY_BYTES) return false;
  try {
    return nodeVerify(null, message, publicKeyObject(rawPublicKey), signature);
  } catch {
    return false;
  }
}
