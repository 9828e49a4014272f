import { createCipheriv, createDecipheriv } from "node:crypto";
import type { Aead } from "./aead-params.js";
import { AEAD_TAG_BYTES, checkKeyAndNonce } from "./aead-params.js";
import { DecryptError } from "./errors.js";

const ALGORITHM = "aes-256-gcm";

/** Plain Uint8Array view: callers compare and serialize bytes; Buffer's extra API is not part of the contract. */
function asBytes(buf: Buffer): Uint8Array {
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

function seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  checkKeyAndNonce(key, nonce);
  const cipher = createCipheriv(ALGORITHM, key, nonce, { authTagLength: AEAD_TAG_BYTES });
  cipher.setAAD(aad);
  const head = cipher.update(plaintext);
  const tail = cipher.final();
  return asBytes(Buffer.concat([head, tail, cipher.getAuthTag()]));
}

function open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array {
  checkKeyAndNonce(key, nonce);
  if (sealed.length < AEAD_TAG_BYTES) throw new DecryptError();
  const ctLength = sealed.length - AEAD_TAG_BYTES;
  try {
    // authTagLength pins the tag to 16 bytes: OpenSSL would otherwise accept truncated tags.
    const decipher = createDecipheriv(ALGORITHM, key, nonce, { authTagLength: AEAD_TAG_BYTES });
    decipher.setAuthTag(sealed.subarray(ctLength));
    decipher.setAAD(aad);
    const head = decipher.update(sealed.subarray(0, ctLength));
    // final() verifies the tag; plaintext from update() is discarded when it throws.
    const tail = decipher.final();
    // GCM gives everything from update(); final() only checks the tag (and returns no bytes).
    return asBytes(tail.length === 0 ? head : Buffer.concat([head, tail]));
  } catch {
    throw new DecryptError();
  }
}

/** OpenSSL AES-256-GCM via node:crypto (hardware AES/CLMUL where available). */
export const nodeAead: Aead = { name: "node-aes-256-gcm", seal, open };
