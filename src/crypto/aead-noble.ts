import { gcm } from "@noble/ciphers/aes.js";
import type { Aead } from "./aead-params.js";
import { AEAD_TAG_BYTES, checkKeyAndNonce } from "./aead-params.js";
import { DecryptError } from "./errors.js";

/** Pure-JS AES-256-GCM (@noble/ciphers): the independent reference for the OpenSSL path. */
export const nobleAead: Aead = {
  name: "noble-aes-256-gcm",
  seal(key, nonce, plaintext, aad) {
    checkKeyAndNonce(key, nonce);
    return gcm(key, nonce, aad).encrypt(plaintext);
  },
  open(key, nonce, sealed, aad) {
    checkKeyAndNonce(key, nonce);
    if (sealed.length < AEAD_TAG_BYTES) throw new DecryptError();
    try {
      return gcm(key, nonce, aad).decrypt(sealed);
    } catch {
      // noble's own message is dropped: one uniform error for every failure cause.
      throw new DecryptError();
    }
  },
};
