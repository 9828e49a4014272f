import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { nobleAead } from "../../../src/crypto/aead-noble.js";
import { CryptoParamError, DecryptError, FieldFormatError } from "../../../src/crypto/errors.js";
import {
  dekAad,
  FIELD_OVERHEAD_BYTES,
  fieldAad,
  fieldKeyVersion,
  openField,
  sealField,
} from "../../../src/crypto/field-cipher.js";
import { toHex } from "./helpers.js";

const utf8 = new TextEncoder();
const dek = randomBytes(32);
const aad = fieldAad("tenant-1", "nodes", "body", "row-1");
const plaintext = utf8.encode("the quarterly plan");

describe("fieldAad / dekAad", () => {
  it("is unambiguous where a naive join is not", () => {
    const pairs: [string[], string[]][] = [
      [
        ["t", "a|b", "c", "r"],
        ["t", "a", "b|c", "r"],
      ],
      [
        ["t", "ab", "c", "r"],
        ["t", "a", "bc", "r"],
      ],
      [
        ["t\u0000x", "a", "c", "r"],
        ["t", "\u0000xa", "c", "r"],
      ],
      [
        ["t", "a", "c", ""],
        ["t", "a", "", "c"],
      ],
    ];
    for (const [a, b] of pairs) {
      const [ta, xa, ca, ra] = a as [string, string, string, string];
      const [tb, xb, cb, rb] = b as [string, string, string, string];
      expect(toHex(fieldAad(ta, xa, ca, ra))).not.toBe(toHex(fieldAad(tb, xb, cb, rb)));
    }
  });

  it("has the layout every stored field was sealed with: uint32-BE length, then UTF-8, per part", () => {
    // Written out by hand: a change of layout would leave every sealed field unreadable.
    expect(toHex(fieldAad("tenant-\u00e9", "nodes", "title", "row-\u{1F642}"))).toBe(
      "0000000e" +
        Buffer.from("vecto/field/v1").toString("hex") +
        "00000009" +
        Buffer.from("tenant-").toString("hex") +
        "c3a9" +
        "00000005" +
        Buffer.from("nodes").toString("hex") +
        "00000005" +
        Buffer.from("title").toString("hex") +
        "00000008" +
        Buffer.from("row-").toString("hex") +
        "f09f9982",
    );
  });

  it("is deterministic", () => {
    expect(fieldAad("t", "a", "b", "c")).toEqual(fieldAad("t", "a", "b", "c"));
    expect(dekAad("t", 3)).toEqual(dekAad("t", 3));
  });

  it("dekAad separates tenants and versions, and never equals a field AAD", () => {
    expect(toHex(dekAad("t1", 1))).not.toBe(toHex(dekAad("t1", 2)));
    expect(toHex(dekAad("t1", 1))).not.toBe(toHex(dekAad("t2", 1)));
    expect(toHex(dekAad("t1", 1))).not.toBe(toHex(dekAad("t", 11)));
    expect(toHex(dekAad("t", 1))).not.toBe(toHex(fieldAad("t", "", "", "")));
  });

  it("dekAad rejects versions that do not fit uint32", () => {
    for (const v of [-1, 1.5, 2 ** 32, Number.NaN]) expect(() => dekAad("t", v)).toThrow(CryptoParamError);
  });
});

describe("sealField / openField", () => {
  it("writes the documented layout", () => {
    const sealed = sealField(dek, 0x01020304, plaintext, aad);
    expect(sealed).toHaveLength(1 + 4 + 12 + plaintext.length + 16);
    expect(FIELD_OVERHEAD_BYTES).toBe(33);
    expect(sealed[0]).toBe(0x01);
    expect(toHex(sealed.subarray(1, 5))).toBe("01020304");
    expect(fieldKeyVersion(sealed)).toBe(0x01020304);
  });

  it("is plain AES-256-GCM over header||aad (independently opened with noble)", () => {
    const sealed = sealField(dek, 7, plaintext, aad);
    const gcmAad = new Uint8Array([...sealed.subarray(0, 5), ...aad]);
    expect(nobleAead.open(dek, sealed.subarray(5, 17), sealed.subarray(17), gcmAad)).toEqual(plaintext);
  });

  it("round-trips and asks getDek for the stored version", () => {
    const seen: number[] = [];
    const sealed = sealField(dek, 42, plaintext, aad);
    const opened = openField((v) => (seen.push(v), dek), sealed, aad);
    expect(opened).toEqual(plaintext);
    expect(seen).toEqual([42]);
  });

  it("round-trips empty plaintext", () => {
    const sealed = sealField(dek, 1, new Uint8Array(0), aad);
    expect(sealed).toHaveLength(FIELD_OVERHEAD_BYTES);
    expect(openField(() => dek, sealed, aad)).toHaveLength(0);
  });

  it("uses a fresh nonce each time", () => {
    const a = sealField(dek, 1, plaintext, aad);
    const b = sealField(dek, 1, plaintext, aad);
    expect(toHex(a.subarray(5, 17))).not.toBe(toHex(b.subarray(5, 17)));
  });

  it("fails with DecryptError on another place's AAD", () => {
    const sealed = sealField(dek, 1, plaintext, aad);
    const elsewhere = [
      fieldAad("tenant-1", "nodes", "body", "row-2"),
      fieldAad("tenant-1", "nodes", "title", "row-1"),
      fieldAad("tenant-1", "edges", "body", "row-1"),
      fieldAad("tenant-2", "nodes", "body", "row-1"),
    ];
    for (const other of elsewhere) expect(() => openField(() => dek, sealed, other)).toThrow(DecryptError);
  });

  it("authenticates the header: an edited key version fails even with the same key", () => {
    const sealed = sealField(dek, 1, plaintext, aad);
    sealed[4] = 2;
    expect(() => openField(() => dek, sealed, aad)).toThrow(DecryptError);
  });

  it("rejects unknown format versions and short input with FieldFormatError", () => {
    const sealed = sealField(dek, 1, plaintext, aad);
    const v2 = sealed.slice();
    v2[0] = 0x02;
    expect(() => openField(() => dek, v2, aad)).toThrow(/unsupported sealed field format version 0x02/);
    expect(() => fieldKeyVersion(v2)).toThrow(FieldFormatError);
    for (const len of [0, 1, 5, 17, 32]) {
      expect(() => openField(() => dek, sealed.subarray(0, len), aad)).toThrow(FieldFormatError);
    }
  });

  it("rejects key versions that do not fit uint32", () => {
    for (const v of [-1, 2 ** 32, 0.5]) expect(() => sealField(dek, v, plaintext, aad)).toThrow(CryptoParamError);
  });
});
