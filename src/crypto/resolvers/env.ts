import { randomBytes } from "node:crypto";
import { constants as fsc, promises as fsp } from "node:fs";
import { dirname } from "node:path";
import { sha256 } from "@noble/hashes/sha2.js";
import { aead } from "../aead.js";
import { AEAD_KEY_BYTES, AEAD_NONCE_BYTES, AEAD_TAG_BYTES } from "../aead-params.js";
import { DecryptError, KeyFileError, KeyUnwrapError, MasterKeyUnavailableError } from "../errors.js";
import type { KeyResolver, ResolverInfo, WrappedKey } from "../key-resolver.js";
import { FileExistsError, writeNewFile } from "../secret-file.js";

/** base64 of 32 bytes is 44 chars; anything much larger is not a key file, so never read it whole. */
const MAX_KEY_FILE_BYTES = 64;
const LABEL_DOMAIN = new TextEncoder().encode("vecto master key id");
const BASE64_32 = /^[A-Za-z0-9+/]{43}=$/;

/** `env:` + 16 hex chars of SHA-256(domain || key): identifies a key without revealing it. */
export function envMasterLabel(key: Uint8Array): string {
  const input = new Uint8Array(LABEL_DOMAIN.length + key.length);
  input.set(LABEL_DOMAIN, 0);
  input.set(key, LABEL_DOMAIN.length);
  const digest = sha256(input);
  input.fill(0);
  return `env:${Buffer.from(digest).toString("hex").slice(0, 16)}`;
}

function parseKeyFile(path: string, raw: Buffer): Uint8Array {
  let text = raw.toString("latin1");
  if (text.endsWith("\n")) text = text.slice(0, -1);
  if (!BASE64_32.test(text)) {
    throw new KeyFileError(
      `master key file ${path} is malformed: expected base64 of exactly ${AEAD_KEY_BYTES} bytes and an ` +
        `optional trailing newline`,
    );
  }
  const decoded = Buffer.from(text, "base64");
  const key = new Uint8Array(decoded);
  decoded.fill(0); // small Buffers come from a shared pool; do not leave a copy there
  if (key.length !== AEAD_KEY_BYTES) {
    throw new KeyFileError(`master key file ${path} is malformed: it does not decode to ${AEAD_KEY_BYTES} bytes`);
  }
  return key;
}

const FS_REASONS: Record<string, string> = {
  ENOENT: "it does not exist",
  EACCES: "permission denied",
  EISDIR: "it is a directory",
};

function describeFsError(path: string, err: unknown): KeyFileError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code ?? "unknown error";
  return new KeyFileError(`cannot read master key file ${path}: ${FS_REASONS[code] ?? code}`);
}

/** Opens once and checks mode on the open descriptor, so a swapped file cannot slip between check and read. */
async function readKeyFile(path: string): Promise<Uint8Array> {
  let handle: fsp.FileHandle;
  try {
    // Symlinks are followed on purpose (credential dirs are often linked); fstat checks the target.
    handle = await fsp.open(path, fsc.O_RDONLY);
  } catch (err) {
    throw describeFsError(path, err);
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new KeyFileError(`master key file ${path} is not a regular file`);
    if ((st.mode & 0o077) !== 0) {
      const mode = (st.mode & 0o777).toString(8).padStart(4, "0");
      throw new KeyFileError(
        `master key file ${path} has mode ${mode}; it must not be readable by group or others (chmod 600)`,
      );
    }
    if (st.size > MAX_KEY_FILE_BYTES) {
      throw new KeyFileError(`master key file ${path} is malformed: ${st.size} bytes is too large for a key file`);
    }
    const raw = Buffer.alloc(MAX_KEY_FILE_BYTES + 1);
    const { bytesRead } = await handle.read(raw, 0, raw.length, 0);
    try {
      return parseKeyFile(path, raw.subarray(0, bytesRead));
    } finally {
      raw.fill(0);
    }
  } finally {
    await handle.close();
  }
}

/**
 * Master key from a local file (systemd credential or VECTO_MASTER_KEY_FILE). The key lives only
 * in this object's private field; describe() exposes its fingerprint label, never the bytes.
 */
export class EnvKeyResolver implements KeyResolver {
  readonly #key: Uint8Array;
  readonly #label: string;
  readonly #path: string;

  private constructor(path: string, key: Uint8Array) {
    this.#path = path;
    this.#key = key;
    this.#label = envMasterLabel(key);
  }

  static async fromFile(path: string): Promise<EnvKeyResolver> {
    return new EnvKeyResolver(path, await readKeyFile(path));
  }

  async wrap(dek: Uint8Array, aad: Uint8Array): Promise<WrappedKey> {
    const nonce = randomBytes(AEAD_NONCE_BYTES);
    const sealed = aead.seal(this.#key, nonce, dek, aad);
    const blob = new Uint8Array(nonce.length + sealed.length);
    blob.set(nonce, 0);
    blob.set(sealed, nonce.length);
    return { masterLabel: this.#label, blob };
  }

  async unwrap(wrapped: WrappedKey, aad: Uint8Array): Promise<Uint8Array> {
    if (wrapped.masterLabel !== this.#label) {
      throw new MasterKeyUnavailableError(
        `DEK was wrapped by master key ${wrapped.masterLabel}, but the loaded master key is ${this.#label}`,
      );
    }
    if (wrapped.blob.length < AEAD_NONCE_BYTES + AEAD_TAG_BYTES) {
      throw new KeyUnwrapError(`wrapped DEK for master key ${this.#label} is truncated`);
    }
    try {
      const nonce = wrapped.blob.subarray(0, AEAD_NONCE_BYTES);
      return aead.open(this.#key, nonce, wrapped.blob.subarray(AEAD_NONCE_BYTES), aad);
    } catch (err) {
      if (!(err instanceof DecryptError)) throw err;
      throw new KeyUnwrapError(
        `wrapped DEK failed authentication under master key ${this.#label}: tampered, or bound to ` +
          `another tenant/version`,
      );
    }
  }

  describe(): ResolverInfo {
    return { kind: "env", masterLabel: this.#label, detail: { file: this.#path } };
  }

  /** Round-trips a throwaway key: proves the loaded key and the AEAD work, touches no stored data. */
  async check(): Promise<void> {
    const probe = randomBytes(AEAD_KEY_BYTES);
    const aad = new TextEncoder().encode("vecto/readyz");
    const back = await this.unwrap(await this.wrap(probe, aad), aad);
    if (!Buffer.from(back).equals(probe)) {
      throw new MasterKeyUnavailableError(`master key ${this.#label} failed its self-test`);
    }
  }
}

function refuseOverwrite(path: string): KeyFileError {
  return new KeyFileError(`refusing to overwrite existing master key file ${path}`);
}

/**
 * Creates a new random master key file (mode 0600) and returns its label. Refuses to overwrite:
 * losing a master key loses every tenant's data.
 */
export async function generateMasterKeyFile(path: string): Promise<{ masterLabel: string }> {
  const key = randomBytes(AEAD_KEY_BYTES);
  try {
    await writeNewFile(path, `${key.toString("base64")}\n`, 0o600);
    return { masterLabel: envMasterLabel(key) };
  } catch (err) {
    if (err instanceof FileExistsError) throw refuseOverwrite(path);
    const code = (err as NodeJS.ErrnoException).code;
    if (code === undefined) throw err;
    throw new KeyFileError(`cannot create master key file ${path}: ${FS_REASONS[code] ?? code} (in ${dirname(path)})`);
  } finally {
    key.fill(0);
  }
}
