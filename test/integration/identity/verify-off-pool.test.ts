/**
 * Authentication never waits behind password hashing (docs/authentication.md): an access token is
 * verified without libuv's thread pool, so a request authenticates while argon2 holds every thread
 * of the pool. Checked by order of completion, never by time.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MIN_ARGON2 } from "../../../src/auth/passwords.js";
import { threadPoolSize } from "../../../src/config.js";
import { identityFixture, type Account, type Fixture } from "../../identity-fixture.js";

describe("access tokens verified while argon2 fills the thread pool", () => {
  let f: Fixture;
  let member: Account;

  beforeAll(async () => {
    f = await identityFixture();
    const acme = await f.createTenant("acme-pool");
    member = await f.createUser(acme.admin, { role: "member" }, acme.slug);
    // Warm: this process has verified a token of this kid once (its key is prepared).
    expect((await f.call("GET", "/api/me", { token: member.tokens.accessToken })).status).toBe(200);
  });
  afterAll(() => f.close());

  it("answers an authenticated request before the pool has finished one pool-full of hashes", async () => {
    const pool = threadPoolSize();
    // argon2 called directly, not through the product's capped hasher: every thread of the pool is
    // taken and as many hashes again wait in libuv's queue, as with any burst of pool work.
    const argon2 = await import("argon2");
    const stored = await argon2.hash("violet-anchor-quartz-meadow-42", {
      type: argon2.argon2id,
      memoryCost: MIN_ARGON2.memoryKiB,
      timeCost: MIN_ARGON2.timeCost,
      parallelism: MIN_ARGON2.parallelism,
    });
    const finished: string[] = [];
    const hashes = Array.from({ length: 3 * pool }, (_, i) =>
      argon2.verify(stored, `guess ${i}`).then(() => finished.push("hash")),
    );
    const me = f.call("GET", "/api/me", { token: member.tokens.accessToken }).then((res) => {
      finished.push(`me ${res.status}`);
      return res;
    });
    await Promise.all([...hashes, me]);
    expect(((await (await me).json()) as { user: { id: string } }).user.id).toBe(member.id);
    // Through the pool (WebCrypto, as before) the request would wait behind at least 2 * pool + 1 hashes.
    expect(finished.indexOf("me 200")).toBeGreaterThanOrEqual(0);
    expect(finished.indexOf("me 200")).toBeLessThan(pool);
  });
});
