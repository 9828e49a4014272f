/**
 * The one Ed25519 module: audit checkpoints (signed notes), licenses and usage reports all sign and
 * verify here. node:crypto and node:fs only, no other src module: the vendor's tool (licensing/)
 * and the format modules it shares with the appliance (src/license/format.ts,
 * src/usage/report-format.ts) import this file directly, so it must not pull in the crypto
 * service (test/unit/license/dependencies.test.ts).
 *
 * Private keys are used through an Ed25519Signer handle: the key lives in a private field, never
 * in an own or enumerable property, so logging or serialising a signer shows no key material;
 * seeds given to ed25519SignerFromSeed are not retained. Verification with a public key is a pure
 * function. Public keys travel as the raw 32 bytes in base64, or as an SPKI PEM; a key id (licenses,
 * usage reports) is the first 16 hex digits of SHA-256 of the raw key.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign as nodeSign,
  verify as nodeVerify,
  type KeyObject,
} from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";

export const ED25519_PUBLIC_KEY_BYTES = 32;
export const ED25519_SEED_BYTES = 32;
export const ED25519_SIGNATURE_BYTES = 64;
// DER headers that turn a raw 32-byte seed / public key into the PKCS#8 / SPKI node:crypto takes.
const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
const SPKI_ED25519_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

/** A key of the wrong shape or type. Messages never quote key material. */
export class KeyFormatError extends Error {
  override readonly name = "KeyFormatError";
}

/** Signs with a private key it never reveals. */
export interface Ed25519Signer {
  /** The raw 32-byte public key (a copy). */
  readonly publicKey: Uint8Array;
  /** Ed25519 signature (64 bytes) over message. */
  sign(message: Uint8Array): Uint8Array;
}

class PrivateKeySigner implements Ed25519Signer {
  readonly #privateKey: KeyObject;
  readonly #publicKey: Uint8Array;

  constructor(privateKey: KeyObject) {
    if (privateKey.asymmetricKeyType !== "ed25519") throw new KeyFormatError("not an Ed25519 key");
    this.#privateKey = privateKey;
    this.#publicKey = rawPublicKey(createPublicKey(privateKey));
  }

  get publicKey(): Uint8Array {
    return this.#publicKey.slice();
  }

  sign(message: Uint8Array): Uint8Array {
    return new Uint8Array(nodeSign(null, message, this.#privateKey));
  }

  toJSON(): Record<string, never> {
    return {};
  }
}

/** The signer for a raw 32-byte seed (e.g. just unwrapped by the master key). The seed is not retained. */
export function ed25519SignerFromSeed(seed: Uint8Array): Ed25519Signer {
  if (!(seed instanceof Uint8Array) || seed.length !== ED25519_SEED_BYTES)
    throw new KeyFormatError(`an Ed25519 seed is ${ED25519_SEED_BYTES} bytes`);
  const der = derWrap(PKCS8_ED25519_PREFIX, seed);
  try {
    return new PrivateKeySigner(createPrivateKey({ key: der, format: "der", type: "pkcs8" }));
  } finally {
    der.fill(0); // the seed copy inside the DER must not linger in memory
  }
}

/** A signer for a fresh key pair (an impostor in a test, a key a caller keeps only as this handle). */
export function generateEd25519Signer(): Ed25519Signer {
  return new PrivateKeySigner(generateKeyPairSync("ed25519").privateKey);
}

/** The signer for a PKCS#8 PEM private key file (the vendor's license key). Errors name the file, never its content. */
export function readEd25519SignerFile(file: string): Ed25519Signer {
  let key: KeyObject;
  try {
    key = createPrivateKey(readFileSync(file, "utf8"));
  } catch {
    throw new KeyFormatError(`${file} is not a PEM private key`);
  }
  if (key.asymmetricKeyType !== "ed25519") throw new KeyFormatError(`${file} is not an Ed25519 key`);
  return new PrivateKeySigner(key);
}

/**
 * Generates a key pair straight into files: the private key as PKCS#8 PEM (mode 0600 from the first
 * byte), the public key as SPKI PEM. "wx": never through a file someone put in the way. Returns
 * the raw public key; the private key never leaves this module as a value.
 */
export function writeNewEd25519KeyFiles(privateKeyFile: string, publicKeyFile: string): Uint8Array {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  writeFileSync(privateKeyFile, privateKey.export({ format: "pem", type: "pkcs8" }), { mode: 0o600, flag: "wx" });
  writeFileSync(publicKeyFile, publicKey.export({ format: "pem", type: "spki" }), { mode: 0o644, flag: "wx" });
  return rawPublicKey(publicKey);
}

/** False for any malformed input; never throws on attacker-controlled bytes. */
export function verifyEd25519(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== ED25519_SIGNATURE_BYTES || publicKey.length !== ED25519_PUBLIC_KEY_BYTES) return false;
  try {
    return nodeVerify(
      null,
      message,
      createPublicKey({ key: derWrap(SPKI_ED25519_PREFIX, publicKey), format: "der", type: "spki" }),
      signature,
    );
  } catch {
    return false;
  }
}

export function keyIdOf(rawPublicKey: Uint8Array): string {
  return createHash("sha256").update(rawPublicKey).digest("hex").slice(0, 16);
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
  if (raw === null || raw.length !== ED25519_PUBLIC_KEY_BYTES)
    throw new KeyFormatError(
      `expected an Ed25519 public key: ${ED25519_PUBLIC_KEY_BYTES} bytes in base64, or an SPKI PEM`,
    );
  return raw;
}

export function encodePublicKey(rawPublicKey: Uint8Array): string {
  return Buffer.from(rawPublicKey).toString("base64");
}

/**
 * Standard base64 with padding, canonical only (no stray bits, no whitespace): Buffer.from is
 * lenient, and a lenient decoder would accept several spellings of one key or signature.
 */
export function decodeBase64Strict(encoded: string): Uint8Array | null {
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(encoded)) return null;
  const bytes = Buffer.from(encoded, "base64");
  return bytes.toString("base64") === encoded ? new Uint8Array(bytes) : null;
}

function rawPublicKey(key: KeyObject): Uint8Array {
  if (key.asymmetricKeyType !== "ed25519") throw new KeyFormatError("not an Ed25519 key");
  const der = key.export({ format: "der", type: "spki" });
  return new Uint8Array(der.subarray(der.length - ED25519_PUBLIC_KEY_BYTES));
}

/** Buffer.alloc, not concat: concat may place the bytes in Node's shared pool, beyond fill(0)'s reach. */
function derWrap(prefix: Buffer, key: Uint8Array): Buffer {
  const der = Buffer.alloc(prefix.length + key.length);
  prefix.copy(der, 0);
  der.set(key, prefix.length);
  return der;
}
