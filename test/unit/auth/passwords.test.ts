import { describe, expect, it } from "vitest";
import { MIN_ARGON2, PasswordHasher, passwordProblem } from "../../../src/auth/passwords.js";

describe("password policy", () => {
  it.each([
    ["short1!", "must be at least 12 characters"],
    ["password1234", "is too common; choose another"],
    ["Password1234", "is too common; choose another"], // case does not help
    ["qwertyuiop123", "is too common; choose another"],
    ["correcthorsebatterystaple", "is too common; choose another"],
    ["aaaaaaaaaaaaaaaa", "repeats too few different characters"],
    ["abababababababab", "repeats too few different characters"],
    ["x".repeat(257), "must be at most 256 characters"],
  ])("refuses %s", (password, reason) => {
    expect(passwordProblem(password)).toBe(reason);
  });

  it("refuses a password containing the user's name or email", () => {
    expect(passwordProblem("margaret-is-my-secret", ["margaret", "Thatcher"])).toBe(
      "must not contain your name or email",
    );
  });

  it("accepts a long unusual passphrase, counting characters not bytes", () => {
    expect(passwordProblem("violet-anchor-quartz-meadow-42")).toBeUndefined();
    expect(passwordProblem("ñandú-çé-ü-ß-ø-å")).toBeUndefined();
  });
});

describe("argon2id hashing", () => {
  const hasher = new PasswordHasher(MIN_ARGON2);

  it("hashes in PHC form with at least OWASP's minimum and verifies", async () => {
    const hash = await hasher.hash("violet-anchor-quartz-meadow-42");
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$|^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
    expect(await hasher.verify(hash, "violet-anchor-quartz-meadow-42")).toEqual({ ok: true, rehash: false });
    expect(await hasher.verify(hash, "violet-anchor-quartz-meadow-43")).toEqual({ ok: false, rehash: false });
    expect(await hasher.verify("not a phc string", "x")).toEqual({ ok: false, rehash: false });
  });

  it("asks for a rehash when the configured parameters rise", async () => {
    const hash = await hasher.hash("violet-anchor-quartz-meadow-42");
    const stronger = new PasswordHasher({ ...MIN_ARGON2, memoryKiB: 32 * 1024 });
    expect(await stronger.verify(hash, "violet-anchor-quartz-meadow-42")).toEqual({ ok: true, rehash: true });
  });

  it("refuses parameters below the OWASP minimum", () => {
    expect(() => new PasswordHasher({ memoryKiB: 4096, timeCost: 1, parallelism: 1 })).toThrow(
      /below the OWASP minimum/,
    );
  });
});
