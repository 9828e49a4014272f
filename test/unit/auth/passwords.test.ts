import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { MIN_ARGON2, PasswordHasher, passwordProblem } from "../../../src/auth/passwords.js";
import { threadPoolSize } from "../../../src/config.js";
import { ROOT } from "../../helpers.js";

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
  const hasher = new PasswordHasher(MIN_ARGON2, 1);

  it("hashes in PHC form with at least OWASP's minimum and verifies", async () => {
    const hash = await hasher.hash("violet-anchor-quartz-meadow-42");
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$|^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
    expect(await hasher.verify(hash, "violet-anchor-quartz-meadow-42")).toEqual({ ok: true, rehash: false });
    expect(await hasher.verify(hash, "violet-anchor-quartz-meadow-43")).toEqual({ ok: false, rehash: false });
    expect(await hasher.verify("not a phc string", "x")).toEqual({ ok: false, rehash: false });
  });

  it("asks for a rehash when the configured parameters rise", async () => {
    const hash = await hasher.hash("violet-anchor-quartz-meadow-42");
    const stronger = new PasswordHasher({ ...MIN_ARGON2, memoryKiB: 32 * 1024 }, 1);
    expect(await stronger.verify(hash, "violet-anchor-quartz-meadow-42")).toEqual({ ok: true, rehash: true });
  });

  it("refuses parameters below the OWASP minimum", () => {
    expect(() => new PasswordHasher({ memoryKiB: 4096, timeCost: 1, parallelism: 1 }, 1)).toThrow(
      /below the OWASP minimum/,
    );
  });
});

describe("argon2 below the size of libuv's thread pool", () => {
  it("leaves a thread free: a file read queued behind three pool-fulls of password checks finishes before one pool-full of them", async () => {
    // This process's pool, as libuv sized it from UV_THREADPOOL_SIZE (the product's own reading of it).
    const pool = threadPoolSize();
    const hasher = new PasswordHasher(MIN_ARGON2, pool - 1);
    const stored = await hasher.hash("violet-anchor-quartz-meadow-42"); // also loads argon2
    const finished: string[] = [];
    const checks = Array.from({ length: 3 * pool }, (_, i) =>
      hasher.verify(stored, `wrong password ${i}`).then(() => finished.push("check")),
    );
    await new Promise((resolve) => setImmediate(resolve)); // every check is in the pool or in the hasher's queue
    // Any other user of the pool (file I/O here; DNS, zlib, WebCrypto alike): four pool jobs in a row.
    const read = readFile(join(ROOT, "package.json")).then(() => finished.push("read"));
    await Promise.all([...checks, read]);
    // Order of completion, not time: without the cap the read waits until the pool has taken every check.
    expect(finished.indexOf("read")).toBeLessThan(pool);
    expect(finished.filter((f) => f === "check")).toHaveLength(3 * pool);
  });
});
