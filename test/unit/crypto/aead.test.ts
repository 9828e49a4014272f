import { randomBytes, randomInt } from "node:crypto";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { aead, type Aead } from "../../../src/crypto/aead.js";
import { nobleAead } from "../../../src/crypto/aead-noble.js";
import { nodeAead } from "../../../src/crypto/aead-node.js";
import { CryptoParamError, DecryptError } from "../../../src/crypto/errors.js";
import { hex, toHex } from "./helpers.js";

interface Vector {
  name: string;
  source: string;
  key: string;
  iv: string;
  pt: string | null;
  aad: string;
  ct: string;
  tag: string;
  result: "pass" | "fail";
}

const fixture = JSON.parse(readFileSync(resolve(process.cwd(), "test/fixtures/nist/aes256gcm.json"), "utf8")) as {
  vectors: Vector[];
};
const vectors = fixture.vectors;
const passing = vectors.filter((v) => v.result === "pass");
const failing = vectors.filter((v) => v.result === "fail");
const impls: readonly Aead[] = [nodeAead, nobleAead];

function flipBit(data: Uint8Array, index: number, bit = 0): Uint8Array {
  const copy = data.slice();
  copy[index] = (copy[index] ?? 0) ^ (1 << bit);
  return copy;
}

describe("NIST fixture", () => {
  it("covers the required shapes", () => {
    expect(vectors.length).toBeGreaterThanOrEqual(8);
    expect(passing.some((v) => v.pt === "" && v.aad === "")).toBe(true);
    expect(passing.some((v) => v.pt === "" && v.aad !== "")).toBe(true);
    expect(passing.some((v) => v.pt !== "" && v.aad === "")).toBe(true);
    expect(passing.some((v) => v.pt !== "" && v.aad !== "")).toBe(true);
    expect(failing.length).toBeGreaterThan(0);
    for (const v of vectors) {
      expect([v.key.length, v.iv.length, v.tag.length]).toEqual([64, 24, 32]);
    }
  });
});

describe.each(impls)("$name", (impl) => {
  it.each(passing)("seal matches $name", (v) => {
    const sealed = impl.seal(hex(v.key), hex(v.iv), hex(v.pt ?? ""), hex(v.aad));
    expect(toHex(sealed)).toBe(v.ct + v.tag);
  });

  it.each(passing)("open matches $name", (v) => {
    const opened = impl.open(hex(v.key), hex(v.iv), hex(v.ct + v.tag), hex(v.aad));
    expect(toHex(opened)).toBe(v.pt);
  });

  it.each(failing)("open rejects $name", (v) => {
    expect(() => impl.open(hex(v.key), hex(v.iv), hex(v.ct + v.tag), hex(v.aad))).toThrow(DecryptError);
  });

  it.each([0, 16, 24, 31, 33, 64])("rejects a %i-byte key", (len) => {
    const key = new Uint8Array(len);
    const nonce = new Uint8Array(12);
    expect(() => impl.seal(key, nonce, new Uint8Array(1), new Uint8Array(0))).toThrow(CryptoParamError);
    expect(() => impl.open(key, nonce, new Uint8Array(17), new Uint8Array(0))).toThrow(CryptoParamError);
  });

  it.each([0, 8, 11, 13, 16])("rejects a %i-byte nonce", (len) => {
    const key = new Uint8Array(32);
    const nonce = new Uint8Array(len);
    expect(() => impl.seal(key, nonce, new Uint8Array(1), new Uint8Array(0))).toThrow(CryptoParamError);
    expect(() => impl.open(key, nonce, new Uint8Array(17), new Uint8Array(0))).toThrow(CryptoParamError);
  });

  describe("tampering", () => {
    const key = randomBytes(32);
    const nonce = randomBytes(12);
    const aad = new TextEncoder().encode("tenant|table|column|row");
    const plaintext = new TextEncoder().encode("secret plaintext that must never leak");
    const sealed = impl.seal(key, nonce, plaintext, aad);
    const ctLen = plaintext.length;

    const cases: [string, () => Uint8Array][] = [
      ["flipped ciphertext bit (first byte)", () => impl.open(key, nonce, flipBit(sealed, 0), aad)],
      ["flipped ciphertext bit (last byte)", () => impl.open(key, nonce, flipBit(sealed, ctLen - 1, 7), aad)],
      ["flipped tag bit (first)", () => impl.open(key, nonce, flipBit(sealed, ctLen), aad)],
      ["flipped tag bit (last)", () => impl.open(key, nonce, flipBit(sealed, sealed.length - 1, 7), aad)],
      ["wrong AAD", () => impl.open(key, nonce, sealed, flipBit(aad, 3))],
      ["empty AAD instead of AAD", () => impl.open(key, nonce, sealed, new Uint8Array(0))],
      ["wrong key", () => impl.open(flipBit(key, 31), nonce, sealed, aad)],
      ["wrong nonce", () => impl.open(key, flipBit(nonce, 11), sealed, aad)],
      ["truncated by one byte", () => impl.open(key, nonce, sealed.subarray(0, sealed.length - 1), aad)],
      ["truncated to the tag only", () => impl.open(key, nonce, sealed.subarray(ctLen), aad)],
      ["truncated below tag size", () => impl.open(key, nonce, sealed.subarray(0, 15), aad)],
      ["empty input", () => impl.open(key, nonce, new Uint8Array(0), aad)],
      ["extra trailing byte", () => impl.open(key, nonce, Uint8Array.of(...sealed, 0), aad)],
    ];

    it.each(cases)("%s -> DecryptError", (_name, attempt) => {
      expect(attempt).toThrow(DecryptError);
    });

    it("error messages carry no key or plaintext", () => {
      for (const [, attempt] of cases) {
        try {
          attempt();
        } catch (err) {
          const text = `${(err as Error).message} ${String(err)}`;
          expect(text).not.toContain(toHex(key));
          expect(text).not.toContain(Buffer.from(key).toString("base64"));
          expect(text).not.toContain("secret plaintext");
          expect(text).not.toContain(toHex(plaintext).slice(0, 16));
        }
      }
    });

    it("round-trips", () => {
      expect(impl.open(key, nonce, sealed, aad)).toEqual(plaintext);
    });
  });
});

describe("node and noble agree", () => {
  it("on 200 random inputs (lengths 0..4096)", () => {
    const edges = [0, 1, 15, 16, 17, 31, 32, 33, 4095, 4096];
    for (let i = 0; i < 200; i++) {
      const key = randomBytes(32);
      const nonce = randomBytes(12);
      const pt = randomBytes(edges[i] ?? randomInt(0, 4097));
      const aad = randomBytes(i % 5 === 0 ? 0 : randomInt(0, 257));
      const a = nodeAead.seal(key, nonce, pt, aad);
      const b = nobleAead.seal(key, nonce, pt, aad);
      expect(toHex(a)).toBe(toHex(b));
      expect(a.length).toBe(pt.length + 16);
      expect(toHex(nobleAead.open(key, nonce, a, aad))).toBe(toHex(pt));
      expect(toHex(nodeAead.open(key, nonce, b, aad))).toBe(toHex(pt));
    }
  });

  it("the hot-path export is one of the two checked implementations", () => {
    expect(impls).toContain(aead);
  });
});
