import { createHash, randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DecryptError, KeyFileError, KeyUnwrapError, MasterKeyUnavailableError } from "../../../src/crypto/errors.js";
import { EnvKeyResolver, generateMasterKeyFile } from "../../../src/crypto/resolvers/env.js";
import { toHex, writeKeyFile } from "./helpers.js";
import { tempDir } from "../../helpers.js";

let dir: string;
let cleanup: () => void;
const aad = new TextEncoder().encode("tenant-1|v1");

beforeEach(async () => {
  ({ path: dir, cleanup } = tempDir("vecto-crypto-"));
});
afterEach(async () => {
  cleanup();
});

async function resolverWithKey(name: string, key: Uint8Array): Promise<EnvKeyResolver> {
  const path = join(dir, name);
  await writeKeyFile(path, Buffer.from(key).toString("base64") + "\n");
  return EnvKeyResolver.fromFile(path);
}

async function captureError(fn: () => Promise<unknown>): Promise<Error> {
  try {
    await fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected a rejection");
}

describe("generateMasterKeyFile", () => {
  it("creates a 0600 file holding base64 of 32 bytes and returns its label", async () => {
    const path = join(dir, "master.key");
    const { masterLabel } = await generateMasterKeyFile(path);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const content = await readFile(path, "utf8");
    expect(content).toMatch(/^[A-Za-z0-9+/]{43}=\n$/);
    expect(Buffer.from(content.trim(), "base64")).toHaveLength(32);
    const resolver = await EnvKeyResolver.fromFile(path);
    expect(resolver.describe().masterLabel).toBe(masterLabel);
    expect(await readdir(dir)).toEqual(["master.key"]);
  });

  it("refuses to overwrite an existing file and leaves it untouched", async () => {
    const path = join(dir, "master.key");
    await generateMasterKeyFile(path);
    const before = await readFile(path, "utf8");
    const err = await captureError(() => generateMasterKeyFile(path));
    expect(err).toBeInstanceOf(KeyFileError);
    expect(err.message).toMatch(/refusing to overwrite/);
    expect(err.message).toContain(path);
    expect(await readFile(path, "utf8")).toBe(before);
    expect(await readdir(dir)).toEqual(["master.key"]);
  });

  it("generates a different key each time", async () => {
    const a = await generateMasterKeyFile(join(dir, "a.key"));
    const b = await generateMasterKeyFile(join(dir, "b.key"));
    expect(a.masterLabel).not.toBe(b.masterLabel);
  });

  it("fails clearly when the directory does not exist", async () => {
    await expect(generateMasterKeyFile(join(dir, "missing", "master.key"))).rejects.toThrow(
      /cannot create master key file .*: it does not exist/,
    );
  });
});

describe("EnvKeyResolver.fromFile", () => {
  it("derives the label as env: + 16 hex of SHA-256('vecto master key id' || key)", async () => {
    const key = randomBytes(32);
    const resolver = await resolverWithKey("k", key);
    const expected = createHash("sha256").update("vecto master key id").update(key).digest("hex").slice(0, 16);
    const info = resolver.describe();
    expect(info).toEqual({ kind: "env", masterLabel: `env:${expected}`, detail: { file: join(dir, "k") } });
    const text = JSON.stringify(info);
    expect(text).not.toContain(key.toString("base64"));
    expect(text).not.toContain(key.toString("hex"));
  });

  it("accepts the key with and without a trailing newline", async () => {
    const key = randomBytes(32);
    await writeKeyFile(join(dir, "nl"), key.toString("base64") + "\n");
    await writeKeyFile(join(dir, "no-nl"), key.toString("base64"));
    const a = await EnvKeyResolver.fromFile(join(dir, "nl"));
    const b = await EnvKeyResolver.fromFile(join(dir, "no-nl"));
    expect(a.describe().masterLabel).toBe(b.describe().masterLabel);
  });

  it.each([0o644, 0o640, 0o604, 0o660, 0o610, 0o601])("refuses mode %o", async (mode) => {
    const path = join(dir, "open.key");
    const content = randomBytes(32).toString("base64") + "\n";
    await writeKeyFile(path, content, mode);
    const err = await captureError(() => EnvKeyResolver.fromFile(path));
    expect(err).toBeInstanceOf(KeyFileError);
    expect(err.message).toContain(path);
    expect(err.message).toContain("chmod 600");
    expect(err.message).not.toContain(content.trim());
  });

  it("accepts mode 0400 (systemd credentials)", async () => {
    await writeKeyFile(join(dir, "ro.key"), randomBytes(32).toString("base64"), 0o400);
    await expect(EnvKeyResolver.fromFile(join(dir, "ro.key"))).resolves.toBeInstanceOf(EnvKeyResolver);
  });

  const malformed: [string, string | Uint8Array][] = [
    ["empty file", ""],
    ["just a newline", "\n"],
    ["31 bytes", randomBytes(31).toString("base64")],
    ["33 bytes", randomBytes(33).toString("base64")],
    ["64 bytes", randomBytes(64).toString("base64")],
    ["hex instead of base64", randomBytes(32).toString("hex")],
    ["base64url alphabet", "-_" + randomBytes(32).toString("base64").slice(2)],
    ["two trailing newlines", randomBytes(32).toString("base64") + "\n\n"],
    ["CRLF", randomBytes(32).toString("base64") + "\r\n"],
    ["leading space", " " + randomBytes(32).toString("base64")],
    ["second line", randomBytes(32).toString("base64") + "\nmore\n"],
    ["KEY=value", "KEY=" + randomBytes(32).toString("base64")],
    ["raw binary", randomBytes(32)],
  ];

  it.each(malformed)("rejects a malformed file (%s) with one line that hides the content", async (_n, content) => {
    const path = join(dir, "bad.key");
    await writeKeyFile(path, content);
    const err = await captureError(() => EnvKeyResolver.fromFile(path));
    expect(err).toBeInstanceOf(KeyFileError);
    expect(err.message).toContain(path);
    expect(err.message).toMatch(/malformed/);
    expect(err.message).not.toContain("\n");
    const text = typeof content === "string" ? content.trim() : Buffer.from(content).toString("latin1");
    if (text.length >= 8) expect(err.message).not.toContain(text.slice(0, 8));
  });

  it("names a missing file and a directory clearly", async () => {
    const missing = await captureError(() => EnvKeyResolver.fromFile(join(dir, "nope")));
    expect(missing).toBeInstanceOf(KeyFileError);
    expect(missing.message).toBe(`cannot read master key file ${join(dir, "nope")}: it does not exist`);
    await mkdir(join(dir, "d"), { mode: 0o700 });
    await expect(EnvKeyResolver.fromFile(join(dir, "d"))).rejects.toThrow(KeyFileError);
  });
});

describe("wrap / unwrap", () => {
  it("round-trips with a fresh nonce each time", async () => {
    const resolver = await resolverWithKey("k", randomBytes(32));
    const dek = randomBytes(32);
    const a = await resolver.wrap(dek, aad);
    const b = await resolver.wrap(dek, aad);
    expect(a.blob).toHaveLength(12 + 32 + 16);
    expect(a.masterLabel).toBe(resolver.describe().masterLabel);
    expect(toHex(a.blob)).not.toBe(toHex(b.blob));
    expect(toHex(await resolver.unwrap(a, aad))).toBe(dek.toString("hex"));
  });

  it("names both labels when the DEK was wrapped by another master key", async () => {
    const a = await resolverWithKey("a", randomBytes(32));
    const b = await resolverWithKey("b", randomBytes(32));
    const wrapped = await a.wrap(randomBytes(32), aad);
    const err = await captureError(() => b.unwrap(wrapped, aad));
    expect(err).toBeInstanceOf(MasterKeyUnavailableError);
    expect(err.message).toBe(
      `DEK was wrapped by master key ${a.describe().masterLabel}, but the loaded master key is ${b.describe().masterLabel}`,
    );
  });

  it("fails authentication (never returns garbage) for a relabelled foreign blob", async () => {
    const a = await resolverWithKey("a", randomBytes(32));
    const b = await resolverWithKey("b", randomBytes(32));
    const wrapped = await a.wrap(randomBytes(32), aad);
    const forged = { masterLabel: b.describe().masterLabel, blob: wrapped.blob };
    await expect(b.unwrap(forged, aad)).rejects.toThrow(KeyUnwrapError);
  });

  it("rejects a tampered blob, the wrong AAD and truncation", async () => {
    const resolver = await resolverWithKey("k", randomBytes(32));
    const wrapped = await resolver.wrap(randomBytes(32), aad);
    for (const i of [0, 11, 12, 43, 44, 59]) {
      const blob = wrapped.blob.slice();
      blob[i] = (blob[i] ?? 0) ^ 0x01;
      const err = await captureError(() => resolver.unwrap({ ...wrapped, blob }, aad));
      expect(err).toBeInstanceOf(KeyUnwrapError);
      expect(err).toBeInstanceOf(DecryptError);
      expect(err.message).toContain(resolver.describe().masterLabel);
    }
    const otherAad = new TextEncoder().encode("tenant-2|v1");
    await expect(resolver.unwrap(wrapped, otherAad)).rejects.toThrow(KeyUnwrapError);
    for (const len of [0, 27, 28, 59]) {
      const blob = wrapped.blob.subarray(0, len);
      await expect(resolver.unwrap({ ...wrapped, blob }, aad)).rejects.toThrow(KeyUnwrapError);
    }
  });

  it("check() passes for a loaded key", async () => {
    const resolver = await resolverWithKey("k", randomBytes(32));
    await expect(resolver.check()).resolves.toBeUndefined();
  });

  it("keeps the key out of every error message", async () => {
    const key = randomBytes(32);
    const a = await resolverWithKey("a", key);
    const b = await resolverWithKey("b", randomBytes(32));
    const wrapped = await b.wrap(randomBytes(32), aad);
    const errors = [
      await captureError(() => a.unwrap(wrapped, aad)),
      await captureError(() => a.unwrap({ masterLabel: a.describe().masterLabel, blob: wrapped.blob }, aad)),
    ];
    for (const err of errors) {
      expect(`${err.message} ${err.stack ?? ""}`).not.toContain(key.toString("base64"));
      expect(`${err.message} ${err.stack ?? ""}`).not.toContain(key.toString("hex"));
    }
  });
});
