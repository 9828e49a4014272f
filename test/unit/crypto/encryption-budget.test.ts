/**
 * A data key's encryptions are counted (reserved in blocks in the real keystore) and the key is
 * replaced before its count passes the limit: random 96-bit nonces bound one key to 2^32.
 */
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CryptoService, DEFAULT_MAX_ENCRYPTIONS_PER_KEY } from "../../../src/crypto/crypto-service.js";
import { fieldKeyVersion } from "../../../src/crypto/field-cipher.js";
import { EnvKeyResolver, generateMasterKeyFile } from "../../../src/crypto/resolvers/env.js";
import { KeyStore } from "../../../src/db/keystore.js";
import { tempDir } from "../../helpers.js";

const ref = { table: "nodes", column: "title", rowId: "n1" };

describe("data-key encryption budget", () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => cleanups.splice(0).forEach((fn) => fn()));

  async function setup(): Promise<{ store: KeyStore; resolver: EnvKeyResolver }> {
    const dir = tempDir();
    const keyFile = join(dir.path, "master.key");
    await generateMasterKeyFile(keyFile);
    const store = KeyStore.open(join(dir.path, "keys.db"), { now: () => new Date().toISOString() });
    cleanups.push(() => {
      store.close();
      dir.cleanup();
    });
    return { store, resolver: await EnvKeyResolver.fromFile(keyFile) };
  }

  it("the default limit is a quarter of the 2^32 bound", () => {
    expect(DEFAULT_MAX_ENCRYPTIONS_PER_KEY).toBe(2 ** 30);
  });

  it("counts encryptions in the keystore and rotates the key before the limit is passed", async () => {
    const { store, resolver } = await setup();
    const forced: [string, number][] = [];
    const crypto = new CryptoService(resolver, store, {
      maxEncryptionsPerKey: 10,
      reservationBlock: 4,
      onForcedRotation: (t, v) => forced.push([t, v]),
    });
    await crypto.createTenantKey("acme");
    const versions: number[] = [];
    const sealed: Uint8Array[] = [];
    for (let i = 0; i < 25; i++) {
      const s = await crypto.encryptField("acme", ref, `value ${i}`);
      sealed.push(s);
      versions.push(fieldKeyVersion(s));
    }
    // Blocks of 4 under a limit of 10: two blocks (8) per version fit, the third would pass it.
    expect(versions).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 4]);
    expect(forced).toEqual([
      ["acme", 2],
      ["acme", 3],
      ["acme", 4],
    ]);
    const keys = store.listTenantKeys("acme");
    for (const k of keys.slice(0, 3)) expect(k.encryptions).toBeLessThanOrEqual(12);
    // No version was used past the limit, and everything still opens.
    for (const [i, s] of sealed.entries()) expect(await crypto.decryptField("acme", ref, s)).toBe(`value ${i}`);
  });

  it("processes sharing a keystore get disjoint blocks: the stored count covers both", async () => {
    const { store, resolver } = await setup();
    const a = new CryptoService(resolver, store, { reservationBlock: 100 });
    const b = new CryptoService(resolver, store, { reservationBlock: 100 });
    await a.createTenantKey("acme");
    for (let i = 0; i < 150; i++) await a.encryptField("acme", ref, "x");
    for (let i = 0; i < 30; i++) await b.encryptField("acme", ref, "y");
    // a reserved two blocks (150 used), b one (30 used): never fewer counted than performed.
    expect(store.listTenantKeys("acme")[0]?.encryptions).toBe(300);
  });

  it("a restarted process never reuses counts reserved before", async () => {
    const { store, resolver } = await setup();
    const first = new CryptoService(resolver, store, { reservationBlock: 50 });
    await first.createTenantKey("acme");
    await first.encryptField("acme", ref, "x");
    const restarted = new CryptoService(resolver, store, { reservationBlock: 50 });
    await restarted.encryptField("acme", ref, "y");
    expect(store.listTenantKeys("acme")[0]?.encryptions).toBe(100);
  });
});
