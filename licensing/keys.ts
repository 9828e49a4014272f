/**
 * The vendor's license-signing key pair: Ed25519, private key as PKCS#8 PEM (file 0600), public
 * key as SPKI PEM and as a build input: vendor-keys.json, [{"kid", "publicKey" (raw, base64)}], the
 * file `npm run build:appliance -- --vendor-keys FILE` compiles into a release (appliance/bundle.mjs).
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { encodePublicKey, keyIdOf, rawPublicKey } from "../src/license/ed25519.js";

export const PRIVATE_KEY_FILE = "vendor-license-key.pem";
export const PUBLIC_KEY_FILE = "vendor-license-key.pub.pem";
/** The public key as a --vendor-keys build input trusting this key alone (public: safe to copy to the build machine). */
export const VENDOR_KEYS_FILE = "vendor-keys.json";

export interface GeneratedKey {
  readonly kid: string;
  /** Raw 32 bytes, base64: an entry of a --vendor-keys build input. */
  readonly publicKey: string;
  readonly privateKeyFile: string;
  readonly publicKeyFile: string;
  /** [{kid, publicKey}]: `--vendor-keys` for a build that trusts this key alone. */
  readonly vendorKeysFile: string;
}

export class VendorToolError extends Error {
  override readonly name = "VendorToolError";
}

/** Writes a new key pair into `dir`; refuses to overwrite an existing key. */
export function generateVendorKey(dir: string): GeneratedKey {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const privateKeyFile = join(dir, PRIVATE_KEY_FILE);
  const publicKeyFile = join(dir, PUBLIC_KEY_FILE);
  const vendorKeysFile = join(dir, VENDOR_KEYS_FILE);
  for (const file of [privateKeyFile, publicKeyFile, vendorKeysFile]) if (existsSync(file)) throw new VendorToolError(`${file} exists; refusing to overwrite a key`);
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  // "wx": created here, never through a file someone put in the way; 0600 from the first byte.
  writeFileSync(privateKeyFile, privateKey.export({ format: "pem", type: "pkcs8" }), { mode: 0o600, flag: "wx" });
  writeFileSync(publicKeyFile, publicKey.export({ format: "pem", type: "spki" }), { mode: 0o644, flag: "wx" });
  const raw = rawPublicKey(publicKey);
  const entry = { kid: keyIdOf(raw), publicKey: encodePublicKey(raw) };
  writeFileSync(vendorKeysFile, `${JSON.stringify([entry], null, 2)}\n`, { mode: 0o644, flag: "wx" });
  return { ...entry, privateKeyFile, publicKeyFile, vendorKeysFile };
}

/** Loads the private key; warns (through `warn`) when the file is readable by others. */
export function loadPrivateKey(file: string, warn: (message: string) => void): KeyObject {
  if (!existsSync(file)) throw new VendorToolError(`no such key file: ${file}`);
  if ((statSync(file).mode & 0o077) !== 0) warn(`${file} is readable by group or others; it should be 0600`);
  let key: KeyObject;
  try {
    key = createPrivateKey(readFileSync(file, "utf8"));
  } catch {
    throw new VendorToolError(`${file} is not a PEM private key`);
  }
  if (key.asymmetricKeyType !== "ed25519") throw new VendorToolError(`${file} is not an Ed25519 key`);
  return key;
}

export function keyIdOfPrivate(key: KeyObject): string {
  return keyIdOf(rawPublicKey(createPublicKey(key)));
}
