import { join } from "node:path";
import { decodeProtectedHeader } from "jose";
import { describe, expect, it, onTestFinished } from "vitest";
import { AccessTokens, InvalidTokenError, KEY_ROTATION_SECONDS } from "../../../src/auth/jwt.js";
import { CryptoService } from "../../../src/crypto/crypto-service.js";
import { EnvKeyResolver, generateMasterKeyFile } from "../../../src/crypto/resolvers/env.js";
import { Database } from "../../../src/db/db.js";
import { testDir } from "../../helpers.js";

const subject = { userId: "u-1", tenantId: "t-1", sessionId: "s-1", scopes: ["self", "graph:read"] };

describe("access tokens on a rotating key ring", () => {
  async function setup(): Promise<{ tokens: AccessTokens; clock: { now: Date }; db: Database }> {
    const dir = testDir();
    const clock = { now: new Date("2026-11-28T10:00:00.000Z") };
    const db = Database.open(join(dir, "vecto.db"), { now: () => clock.now });
    onTestFinished(() => db.close());
    await generateMasterKeyFile(join(dir, "master.key"));
    const crypto = new CryptoService(await EnvKeyResolver.fromFile(join(dir, "master.key")), db.keystore);
    return { tokens: new AccessTokens(db, crypto, "vecto:test", "vecto-api", () => clock.now), clock, db };
  }

  const kidOf = (token: string): string | undefined => decodeProtectedHeader(token).kid;

  it("signs HS256 at+jwt with a kid and verifies its own tokens", async () => {
    const { tokens } = await setup();
    const { token } = await tokens.sign(subject, 3600);
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: "HS256", typ: "at+jwt" });
    expect(kidOf(token)).toMatch(/^[A-Za-z0-9_-]{12}$/);
    expect(await tokens.verify(token)).toMatchObject({
      sub: "u-1",
      tid: "t-1",
      sid: "s-1",
      scopes: ["self", "graph:read"],
    });
  });

  it("keeps verifying tokens of a rotated-out key until they expire", async () => {
    const { tokens, clock } = await setup();
    const old = await tokens.sign(subject, 3600);
    await tokens.rotate();
    const fresh = await tokens.sign(subject, 3600);
    expect(kidOf(fresh.token)).not.toBe(kidOf(old.token));
    expect((await tokens.verify(old.token)).sub).toBe("u-1");
    clock.now = new Date(clock.now.getTime() + 3601_000 + 30_000);
    await expect(tokens.verify(old.token)).rejects.toBeInstanceOf(InvalidTokenError);
  });

  it("rotates by itself once the signing key is a week old, and forgets long-retired keys", async () => {
    const { tokens, clock, db } = await setup();
    const first = await tokens.sign(subject, 3600);
    clock.now = new Date(clock.now.getTime() + (KEY_ROTATION_SECONDS + 60) * 1000);
    const second = await tokens.sign(subject, 3600);
    expect(kidOf(second.token)).not.toBe(kidOf(first.token));
    clock.now = new Date(clock.now.getTime() + (KEY_ROTATION_SECONDS + 60) * 1000);
    await tokens.sign(subject, 3600); // third key; the first was retired over two days ago and is pruned
    const ring = db.jwtKeys.list().map((k) => k.kid);
    expect(ring).toHaveLength(2);
    expect(ring).not.toContain(kidOf(first.token));
    expect(ring).toContain(kidOf(second.token));
  });
});
