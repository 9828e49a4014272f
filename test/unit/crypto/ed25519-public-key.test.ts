/**
 * checkEd25519PublicKey: signing keys people register (docs/signing.md) must be canonical encodings
 * of curve points of large order. node:crypto takes any 32 bytes as an Ed25519 key, so this check
 * is what stands between a "key" of small order, under which signatures verify without a private
 * key, and the approvals it would sign.
 */
import { describe, expect, it } from "vitest";
import { checkEd25519PublicKey, generateEd25519Signer, KeyFormatError } from "../../../src/crypto/index.js";

const FF = "ff".repeat(30);
/** libsodium's blocklist of small-order encodings (ed25519_ref10.c), with their sign-bit twins. */
const SMALL_ORDER = {
  "0 (order 4)": "00".repeat(32),
  "0 negated (order 4)": `${"00".repeat(31)}80`,
  "1 (order 1, the neutral element)": `01${"00".repeat(31)}`,
  "order 8": "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
  "order 8, negated": "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
  "order 8, other": "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
  "order 8, other negated": "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
  "p - 1 (order 2)": `ec${FF}7f`,
};
/** Not the canonical encoding of any point: y >= p, or x = 0 with the sign bit set. */
const NOT_CANONICAL = {
  "p (0 again)": `ed${FF}7f`,
  "p + 1 (1 again)": `ee${FF}7f`,
  "1 with the sign bit": `01${"00".repeat(30)}80`,
  "all ones": "ff".repeat(32),
};

describe("checkEd25519PublicKey", () => {
  it("accepts real public keys", () => {
    for (let i = 0; i < 64; i++) expect(() => checkEd25519PublicKey(generateEd25519Signer().publicKey)).not.toThrow();
  });

  it("refuses every small-order point", () => {
    for (const [name, hex] of Object.entries(SMALL_ORDER))
      expect(() => checkEd25519PublicKey(Buffer.from(hex, "hex")), name).toThrow(/small order/);
  });

  it("refuses encodings of no point, and non-canonical ones", () => {
    for (const [name, hex] of Object.entries(NOT_CANONICAL))
      expect(() => checkEd25519PublicKey(Buffer.from(hex, "hex")), name).toThrow(KeyFormatError);
    expect(() => checkEd25519PublicKey(Buffer.from(`02${"00".repeat(31)}`, "hex"))).toThrow(/no curve point/);
  });

  it("refuses a wrong length", () => {
    for (const length of [0, 31, 33, 64])
      expect(() => checkEd25519PublicKey(new Uint8Array(length))).toThrow(KeyFormatError);
  });
});
