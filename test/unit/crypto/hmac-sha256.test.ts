/** HMAC-SHA256 (src/crypto/hmac-sha256.ts) against RFC 4231's test vectors; its output is a plain Uint8Array. */
import { describe, expect, it } from "vitest";
import { hmacSha256 } from "../../../src/crypto/hmac-sha256.js";

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");

describe("hmacSha256", () => {
  it("gives RFC 4231's test case 2 and 6 (a key longer than the block)", () => {
    const text = new TextEncoder();
    expect(hex(hmacSha256(text.encode("Jefe"), text.encode("what do ya want for nothing?")))).toBe(
      "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    );
    expect(
      hex(
        hmacSha256(
          new Uint8Array(131).fill(0xaa),
          text.encode("Test Using Larger Than Block-Size Key - Hash Key First"),
        ),
      ),
    ).toBe("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  });

  it("returns a plain Uint8Array of 32 bytes, not a Buffer", () => {
    const tag = hmacSha256(new Uint8Array(32), new Uint8Array(0));
    expect(tag.constructor).toBe(Uint8Array);
    expect(tag.length).toBe(32);
  });
});
