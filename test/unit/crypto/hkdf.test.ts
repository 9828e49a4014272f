import { hkdfSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { CryptoParamError } from "../../../src/crypto/errors.js";
import { deriveKey, HKDF_SALT, hkdfSha256, SUB_KEY_LABELS, type SubKeyLabel } from "../../../src/crypto/hkdf.js";
import { hex, toHex } from "./helpers.js";

const range = (from: number, to: number): string =>
  Array.from({ length: to - from + 1 }, (_, i) => (from + i).toString(16).padStart(2, "0")).join("");

// RFC 5869 Appendix A, test cases 1-3 (SHA-256).
const RFC5869 = [
  {
    name: "A.1 basic",
    ikm: "0b".repeat(22),
    salt: "000102030405060708090a0b0c",
    info: "f0f1f2f3f4f5f6f7f8f9",
    length: 42,
    okm: "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
  },
  {
    name: "A.2 longer inputs/outputs",
    ikm: range(0x00, 0x4f),
    salt: range(0x60, 0xaf),
    info: range(0xb0, 0xff),
    length: 82,
    okm:
      "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c" +
      "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71" +
      "cc30c58179ec3e87c14c01d5c1f3434f1d87",
  },
  {
    name: "A.3 zero-length salt/info",
    ikm: "0b".repeat(22),
    salt: "",
    info: "",
    length: 42,
    okm: "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
  },
];

describe("hkdfSha256 (RFC 5869)", () => {
  it.each(RFC5869)("$name", (tc) => {
    expect(toHex(hkdfSha256(hex(tc.ikm), hex(tc.salt), hex(tc.info), tc.length))).toBe(tc.okm);
  });

  it.each([0, -1, 1.5, 255 * 32 + 1])("rejects output length %d", (length) => {
    expect(() => hkdfSha256(new Uint8Array(32), new Uint8Array(0), new Uint8Array(0), length)).toThrow(
      CryptoParamError,
    );
  });
});

describe("deriveKey", () => {
  const root = new Uint8Array(32).map((_, i) => i * 7 + 1);

  it("is HKDF-SHA256 with salt vecto/v1 and info = label (checked against node:crypto)", () => {
    for (const label of SUB_KEY_LABELS) {
      const expected = new Uint8Array(hkdfSync("sha256", root, HKDF_SALT, label, 32));
      expect(toHex(deriveKey(root, label))).toBe(toHex(expected));
    }
  });

  it("gives distinct keys for distinct labels", () => {
    const keys = SUB_KEY_LABELS.map((l) => toHex(deriveKey(root, l)));
    expect(new Set(keys).size).toBe(SUB_KEY_LABELS.length);
  });

  it("is deterministic and depends on the root secret", () => {
    expect(deriveKey(root, "jwt")).toEqual(deriveKey(root, "jwt"));
    const other = root.slice();
    other[0] = (other[0] ?? 0) ^ 1;
    expect(toHex(deriveKey(other, "jwt"))).not.toBe(toHex(deriveKey(root, "jwt")));
  });

  it("honours the length, 32 by default", () => {
    expect(deriveKey(root, "backup")).toHaveLength(32);
    const long = deriveKey(root, "backup", 64);
    expect(long).toHaveLength(64);
    expect(toHex(long).startsWith(toHex(deriveKey(root, "backup")))).toBe(true);
  });

  it("refuses labels outside the closed set and short input key material", () => {
    expect(() => deriveKey(root, "ad-hoc" as SubKeyLabel)).toThrow(CryptoParamError);
    expect(() => deriveKey(new Uint8Array(16), "jwt")).toThrow(CryptoParamError);
  });
});
