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

// Curve25519 in Edwards form (RFC 8032 section 5.1): the field prime and the curve constant d.
const P = 2n ** 255n - 19n;
const D = (-121665n * modPow(121666n, P - 2n)) % P;
const SQRT_MINUS_ONE = modPow(2n, (P - 1n) / 4n);

function mod(a: bigint): bigint {
  const r = a % P;
  return r < 0n ? r + P : r;
}

function modPow(base: bigint, exponent: bigint): bigint {
  let result = 1n;
  let b = ((base % P) + P) % P;
  for (let e = exponent; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * b) % P;
    b = (b * b) % P;
  }
  return result;
}

/** The affine point an encoding names (RFC 8032 section 5.1.3), or undefined if it names none or not canonically. */
function decodePoint(raw: Uint8Array): { x: bigint; y: bigint } | undefined {
  const bytes = Buffer.from(raw);
  const sign = (bytes[31] ?? 0) >> 7;
  bytes[31] = (bytes[31] ?? 0) & 0x7f;
  const y = BigInt(`0x${Buffer.from(bytes).reverse().toString("hex")}`);
  if (y >= P) return undefined;
  const u = mod(y * y - 1n);
  const v = mod(D * y * y + 1n);
  let x = mod(u * modPow(v, 3n) * modPow(u * modPow(v, 7n), (P - 5n) / 8n));
  const vx2 = mod(v * x * x);
  if (vx2 === mod(-u)) x = mod(x * SQRT_MINUS_ONE);
  else if (vx2 !== u) return undefined;
  if (x === 0n && sign === 1) return undefined;
  if (Number(x & 1n) !== sign) x = P - x;
  return { x, y };
}

/** [8]P is the neutral element exactly when P has small order (the curve's cofactor is 8). */
function hasSmallOrder(point: { x: bigint; y: bigint }): boolean {
  // Extended coordinates (X:Y:Z:T), doubling per "dbl-2008-hwcd" with a = -1.
  let [X, Y, Z] = [point.x, point.y, 1n];
  for (let i = 0; i < 3; i++) {
    const A = mod(X * X);
    const B = mod(Y * Y);
    const C = mod(2n * Z * Z);
    const E = mod((X + Y) * (X + Y) - A - B);
    const G = mod(B - A);
    const F = mod(G - C);
    const H = mod(-A - B);
    [X, Y, Z] = [mod(E * F), mod(G * H), mod(F * G)];
  }
  return X === 0n && Y === Z;
}

/**
 * Refuses a 32-byte string that is no usable Ed25519 public key: not the canonical encoding of a
 * curve point, or a point of small order. node:crypto accepts any 32 bytes as a key, and with a
 * small-order key (the all-zero one, say) a signature of zeros verifies for some messages: such a
 * key would let its holder "sign" without a private key.
 */
export function checkEd25519PublicKey(raw: Uint8Array): void {
  if (raw.length !== ED25519_PUBLIC_KEY_BYTES)
    throw new KeyFormatError(`an Ed25519 public key is ${ED25519_PUBLIC_KEY_BYTES} bytes`);
  const point = decodePoint(raw);
  if (point === undefined) throw new KeyFormatError("not an Ed25519 public key: the bytes encode no curve point");
  if (hasSmallOrder(point)) throw new KeyFormatError("not a usable Ed25519 public key: a point of small order");
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
