import { randomBytes } from "node:crypto";
import { aead } from "./aead.js";
import { AEAD_NONCE_BYTES, AEAD_TAG_BYTES } from "./aead-params.js";
import { CryptoParamError, FieldFormatError } from "./errors.js";

/**
 * Sealed content field, format 0x01:
 *   [0]      format version 0x01
 *   [1..4]   DEK version, uint32 big-endian
 *   [5..16]  96-bit random nonce
 *   [17..]   AES-256-GCM ciphertext || 16-byte tag
 * The 5 header bytes are authenticated too (prefixed to the caller's AAD), so neither the
 * format nor the key version can be altered without the tag failing.
 */
export const FIELD_FORMAT_V1 = 0x01;
const HEADER_BYTES = 1 + 4;
const PREFIX_BYTES = HEADER_BYTES + AEAD_NONCE_BYTES;
export const FIELD_OVERHEAD_BYTES = PREFIX_BYTES + AEAD_TAG_BYTES;
const MAX_UINT32 = 0xffff_ffff;

const utf8 = new TextEncoder();

/** uint32-BE length || bytes per part: no separator a value could contain, so no two tuples collide. */
function encodeParts(parts: readonly Uint8Array[]): Uint8Array {
  const total = parts.reduce((n, p) => n + 4 + p.length, 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let offset = 0;
  for (const part of parts) {
    view.setUint32(offset, part.length);
    out.set(part, offset + 4);
    offset += 4 + part.length;
  }
  return out;
}

function checkKeyVersion(keyVersion: number): void {
  if (!Number.isInteger(keyVersion) || keyVersion < 0 || keyVersion > MAX_UINT32) {
    throw new CryptoParamError("key version must be an integer in 0..2^32-1");
  }
}

function uint32(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value);
  return out;
}

/** encodeParts of the strings' UTF-8, written straight into one buffer (every read of a field builds one). */
function encodeStrings(parts: readonly string[]): Uint8Array {
  let total = 0;
  for (const part of parts) total += 4 + Buffer.byteLength(part, "utf8");
  const out = Buffer.alloc(total);
  let offset = 0;
  for (const part of parts) {
    const length = out.write(part, offset + 4, "utf8");
    out.writeUInt32BE(length, offset);
    offset += 4 + length;
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** AAD binding a field ciphertext to its place: moving it to another row/column/table/tenant breaks it. */
export function fieldAad(tenantId: string, table: string, column: string, rowId: string): Uint8Array {
  // The leading domain tag keeps field AADs and DEK-wrapping AADs from ever coinciding.
  return encodeStrings(["vecto/field/v1", tenantId, table, column, rowId]);
}

/** AAD for wrapping a tenant DEK under the master key: binds the blob to tenant and version. */
export function dekAad(tenantId: string, keyVersion: number): Uint8Array {
  checkKeyVersion(keyVersion);
  return encodeParts([utf8.encode("vecto/dek/v1"), utf8.encode(tenantId), uint32(keyVersion)]);
}

function gcmAad(header: Uint8Array, aad: Uint8Array): Uint8Array {
  const out = new Uint8Array(header.length + aad.length);
  out.set(header, 0);
  out.set(aad, header.length);
  return out;
}

export function sealField(dek: Uint8Array, keyVersion: number, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  checkKeyVersion(keyVersion);
  const out = new Uint8Array(FIELD_OVERHEAD_BYTES + plaintext.length);
  out[0] = FIELD_FORMAT_V1;
  new DataView(out.buffer).setUint32(1, keyVersion);
  const nonce = randomBytes(AEAD_NONCE_BYTES);
  out.set(nonce, HEADER_BYTES);
  out.set(aead.seal(dek, nonce, plaintext, gcmAad(out.subarray(0, HEADER_BYTES), aad)), PREFIX_BYTES);
  return out;
}

/** Reads the DEK version without decrypting, e.g. to find rows still on an old key. */
export function fieldKeyVersion(sealed: Uint8Array): number {
  if (sealed.length < FIELD_OVERHEAD_BYTES) {
    throw new FieldFormatError(
      `sealed field is ${sealed.length} bytes, shorter than the ${FIELD_OVERHEAD_BYTES}-byte minimum`,
    );
  }
  if (sealed[0] !== FIELD_FORMAT_V1) {
    const v = (sealed[0] ?? 0).toString(16).padStart(2, "0");
    throw new FieldFormatError(`unsupported sealed field format version 0x${v}`);
  }
  return new DataView(sealed.buffer, sealed.byteOffset, sealed.byteLength).getUint32(1);
}

/** Throws FieldFormatError for unknown formats, DecryptError when authentication fails. */
export function openField(getDek: (keyVersion: number) => Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array {
  const keyVersion = fieldKeyVersion(sealed);
  const nonce = sealed.subarray(HEADER_BYTES, PREFIX_BYTES);
  const header = sealed.subarray(0, HEADER_BYTES);
  return aead.open(getDek(keyVersion), nonce, sealed.subarray(PREFIX_BYTES), gcmAad(header, aad));
}
