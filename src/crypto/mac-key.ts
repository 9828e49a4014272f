import { timingSafeEqual } from "node:crypto";
import { hmacSha256 } from "./hmac-sha256.js";

/** The purposes a MAC handle may be asked for: a closed set, reviewed here (see CryptoService.mac). */
export const MAC_PURPOSES = ["audit-hmac"] as const;
export type MacPurpose = (typeof MAC_PURPOSES)[number];

export function isMacPurpose(value: string): value is MacPurpose {
  return (MAC_PURPOSES as readonly string[]).includes(value);
}

/**
 * HMAC-SHA256 under a key it never reveals: the key is in a private field, not an own or
 * enumerable property, so logging or serialising the handle shows nothing.
 */
export class MacKey {
  readonly #key: Uint8Array;

  /** Takes ownership of `key`; only src/crypto constructs one (CryptoService.mac). */
  constructor(key: Uint8Array) {
    this.#key = key;
  }

  mac(message: Uint8Array): Uint8Array {
    return hmacSha256(this.#key, message);
  }

  /** Constant-time comparison against the expected tag; false for a tag of the wrong length. */
  verify(message: Uint8Array, tag: Uint8Array): boolean {
    const expected = this.mac(message);
    return tag.length === expected.length && timingSafeEqual(expected, tag);
  }

  toJSON(): Record<string, never> {
    return {};
  }
}
