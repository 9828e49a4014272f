/**
 * The vendor's license-signing key pair: Ed25519, private key as PKCS#8 PEM (file 0600), public
 * key as SPKI PEM and as a build input: vendor-keys.json, [{"kid", "publicKey" (raw, base64)}], the
 * file `npm run build:appliance -- --vendor-keys FILE` compiles into a release (appliance/bundle.mjs).
 */
import { existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
// The standalone Ed25519 module (not src/crypto/index.ts): the tool must not load the crypto service.
import {
  encodePublicKey,
  KeyFormatError,
  keyIdOf,
  readEd25519SignerFile,
  writeNewEd25519KeyFiles,
  type Ed25519Signer,
} from "../src/crypto/ed25519.js";

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
  for (const file of [privateKeyFile, publicKeyFile, vendorKeysFile])
    if (existsSync(file)) throw new VendorToolError(`${file} exists; refusing to overwrite a key`);
  // Written by src/crypto: the private key never passes through this tool as a value.
  const raw = writeNewEd25519KeyFiles(privateKeyFile, publicKeyFile);
  const entry = { kid: keyIdOf(raw), publicKey: encodePublicKey(raw) };
  writeFileSync(vendorKeysFile, `${JSON.stringify([entry], null, 2)}\n`, { mode: 0o644, flag: "wx" });
  return { ...entry, privateKeyFile, publicKeyFile, vendorKeysFile };
}

/** Loads the private key as a signer; warns (through `warn`) when the file is readable by others. */
export function loadPrivateKey(file: string, warn: (message: string) => void): Ed25519Signer {
  if (!existsSync(file)) throw new VendorToolError(`no such key file: ${file}`);
  if ((statSync(file).mode & 0o077) !== 0) warn(`${file} is readable by group or others; it should be 0600`);
  try {
    return readEd25519SignerFile(file);
  } catch (error) {
    if (error instanceof KeyFormatError) throw new VendorToolError(error.message);
    throw error;
  }
}

export function keyIdOfPrivate(key: Ed25519Signer): string {
  return keyIdOf(key.publicKey);
}
