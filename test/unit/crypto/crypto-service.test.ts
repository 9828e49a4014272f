import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { KeyObject } from "node:crypto";
import { inspect } from "node:util";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { jwtVerify, SignJWT } from "jose";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  CryptoService,
  PLATFORM_TENANT_ID,
  SIGNING_KEY_ID,
  type FieldRef,
  type SigningPurpose,
} from "../../../src/crypto/crypto-service.js";
import { verifyEd25519 } from "../../../src/crypto/ed25519.js";
import {
  CryptoParamError,
  DecryptError,
  KeyUnwrapError,
  JwsError,
  MasterKeyUnavailableError,
  MasterKeyRetiredError,
  TenantKeyError,
} from "../../../src/crypto/errors.js";
import { dekAad, fieldKeyVersion } from "../../../src/crypto/field-cipher.js";
import { SUB_KEY_LABELS } from "../../../src/crypto/hkdf.js";
import type { KeyResolver, ResolverInfo, WrappedKey } from "../../../src/crypto/key-resolver.js";
import type { MacPurpose } from "../../../src/crypto/mac-key.js";
import { MasterKeyRing } from "../../../src/crypto/master-key-ring.js";
import { EnvKeyResolver, generateMasterKeyFile } from "../../../src/crypto/resolvers/env.js";
import type { KeyWrap, StoredTenantKey, TenantKeyStore } from "../../../src/crypto/tenant-key-store.js";
import { KeyStore } from "../../../src/db/keystore.js";
import { accessTokenSecret, platformSubKey } from "../../platform-secrets.js";
import { toHex } from "./helpers.js";
import { tempDir } from "../../helpers.js";

/** Delegating resolver that counts unwraps, to prove the hot path does not reach the KEK. */
class CountingResolver implements KeyResolver {
  unwraps = 0;
  constructor(readonly inner: KeyResolver) {}
  wrap(dek: Uint8Array, aad: Uint8Array): Promise<WrappedKey> {
    return this.inner.wrap(dek, aad);
  }
  unwrap(wrapped: WrappedKey, aad: Uint8Array): Promise<Uint8Array> {
    this.unwraps++;
    return this.inner.unwrap(wrapped, aad);
  }
  describe(): ResolverInfo {
    return this.inner.describe();
  }
  check(): Promise<void> {
    return this.inner.check();
  }
}

/** The real keystore (a SQLite file), counting reads of the key list to prove the hot path skips it. */
class CountingKeyStore implements TenantKeyStore {
  listCalls = 0;
  constructor(readonly inner: KeyStore) {}
  listTenantKeys(tenantId: string): StoredTenantKey[] {
    this.listCalls++;
    return this.inner.listTenantKeys(tenantId);
  }
  insertTenantKey(key: { tenantId: string; version: number; wraps: readonly KeyWrap[]; createdAt: string }): void {
    this.inner.insertTenantKey(key);
  }
  addWraps(entries: readonly { tenantId: string; version: number; wraps: readonly KeyWrap[] }[]): void {
    this.inner.addWraps(entries);
  }
  reserveEncryptions(tenantId: string, version: number, count: number): number {
    return this.inner.reserveEncryptions(tenantId, version, count);
  }
  retiredMasterLabels(): ReadonlySet<string> {
    return this.inner.retiredMasterLabels();
  }
}

const ref: FieldRef = { table: "nodes", column: "body", rowId: "row-1" };
let dir: string;
let cleanup: () => void;
let resolverA: EnvKeyResolver;
let keystore: KeyStore;
let store: CountingKeyStore;
let counting: CountingResolver;
let svc: CryptoService;

async function newResolver(name: string): Promise<EnvKeyResolver> {
  const path = join(dir, name);
  await generateMasterKeyFile(path);
  return EnvKeyResolver.fromFile(path);
}

beforeEach(async () => {
  ({ path: dir, cleanup } = tempDir("vecto-crypto-"));
  resolverA = await newResolver("master-a.key");
  keystore = KeyStore.open(join(dir, "keys.db"), { now: () => new Date().toISOString() });
  store = new CountingKeyStore(keystore);
  counting = new CountingResolver(resolverA);
  svc = new CryptoService(counting, store);
});
afterEach(async () => {
  keystore.close();
  cleanup();
});

/** Changes the stored wrap of a data key the way someone with the keystore file would: raw SQL. */
function rewriteWrap(tenantId: string, wrapped: Uint8Array): void {
  const raw = new BetterSqlite3(join(dir, "keys.db"));
  try {
    raw
      .prepare("UPDATE key_wraps SET wrapped = ? WHERE tenant_id = ? AND version = 1")
      .run(Buffer.from(wrapped), tenantId);
  } finally {
    raw.close();
  }
}

describe("tenant keys and fields", () => {
  it("round-trips text, including empty and non-ASCII", async () => {
    await svc.createTenantKey("t1");
    for (const text of ["hello", "", "Grüße 🚀 — 決定", "x".repeat(100_000)]) {
      const sealed = await svc.encryptField("t1", ref, text);
      expect(await svc.decryptField("t1", ref, sealed)).toBe(text);
    }
  });

  it("stores the DEK only wrapped, labelled with the master key", async () => {
    expect(await svc.createTenantKey("t1")).toBe(1);
    const [row] = store.listTenantKeys("t1");
    expect(row).toMatchObject({ tenantId: "t1", version: 1, status: "active" });
    expect(row?.wraps.map((w) => w.masterLabel)).toEqual([resolverA.describe().masterLabel]);
    expect(row?.wraps[0]?.wrapped).toHaveLength(12 + 32 + 16);
    expect(Number.isNaN(Date.parse(row?.createdAt ?? ""))).toBe(false);
  });

  it("writes with the newest version and still reads the older one", async () => {
    await svc.createTenantKey("t1");
    const old = await svc.encryptField("t1", ref, "old");
    expect(await svc.createTenantKey("t1")).toBe(2);
    const fresh = await svc.encryptField("t1", ref, "new");
    expect([fieldKeyVersion(old), fieldKeyVersion(fresh)]).toEqual([1, 2]);
    expect(await svc.decryptField("t1", ref, old)).toBe("old");
    expect(await svc.decryptField("t1", ref, fresh)).toBe("new");
  });

  it("refuses to encrypt for a tenant without a key", async () => {
    await expect(svc.encryptField("t1", ref, "x")).rejects.toThrow(TenantKeyError);
  });

  it.each<[string, string, FieldRef]>([
    ["another row", "t1", { ...ref, rowId: "row-2" }],
    ["another column", "t1", { ...ref, column: "title" }],
    ["another table", "t1", { ...ref, table: "edges" }],
    ["another tenant", "t2", ref],
  ])("a ciphertext moved to %s fails with DecryptError", async (_name, tenant, where) => {
    await svc.createTenantKey("t1");
    await svc.createTenantKey("t2");
    const sealed = await svc.encryptField("t1", ref, "confidential");
    const err = await svc.decryptField(tenant, where, sealed).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DecryptError);
    expect((err as Error).message).not.toContain("confidential");
  });

  it("rejects reserved and empty tenant ids", async () => {
    await expect(svc.createTenantKey(PLATFORM_TENANT_ID)).rejects.toThrow(CryptoParamError);
    await expect(svc.encryptField("_platform", ref, "x")).rejects.toThrow(CryptoParamError);
    await expect(svc.decryptField("", ref, new Uint8Array(40))).rejects.toThrow(CryptoParamError);
  });

  it("hands out distinct versions under concurrent creation", async () => {
    const versions = await Promise.all([1, 2, 3, 4, 5].map(() => svc.createTenantKey("t1")));
    expect([...versions].sort()).toEqual([1, 2, 3, 4, 5]);
    expect(store.listTenantKeys("t1")).toHaveLength(5);
  });
});

describe("DEK cache", () => {
  it("a restarted service unwraps once, then serves from memory", async () => {
    await svc.createTenantKey("t1");
    const sealed = await svc.encryptField("t1", ref, "cached");
    const restarted = new CryptoService(counting, store);
    counting.unwraps = 0;
    await Promise.all([1, 2, 3].map(() => restarted.decryptField("t1", ref, sealed)));
    expect(counting.unwraps).toBe(1);
    await restarted.encryptField("t1", ref, "loads the write version once");
    const listCalls = store.listCalls;
    for (let i = 0; i < 100; i++) {
      expect(await restarted.decryptField("t1", ref, await restarted.encryptField("t1", ref, `v${i}`))).toBe(`v${i}`);
    }
    expect(counting.unwraps).toBe(1);
    expect(store.listCalls).toBe(listCalls);
  });

  it("forgetTenant drops the cached key so the next use unwraps again", async () => {
    await svc.createTenantKey("t1");
    await svc.createTenantKey("t2");
    const s1 = await svc.encryptField("t1", ref, "a");
    const s2 = await svc.encryptField("t2", ref, "b");
    counting.unwraps = 0;
    svc.forgetTenant("t1");
    expect(await svc.decryptField("t1", ref, s1)).toBe("a");
    expect(await svc.decryptField("t2", ref, s2)).toBe("b");
    expect(counting.unwraps).toBe(1);
  });

  it("a retired version no longer decrypts once the cache is dropped", async () => {
    await svc.createTenantKey("t1");
    const sealed = await svc.encryptField("t1", ref, "old");
    await svc.createTenantKey("t1");
    keystore.retireVersion("t1", 1, new Date().toISOString());
    svc.forgetTenant("t1");
    await expect(svc.decryptField("t1", ref, sealed)).rejects.toThrow(/version 1 of tenant t1 is retired/);
    expect(fieldKeyVersion(await svc.encryptField("t1", ref, "x"))).toBe(2);
  });
});

describe("master key and wrapped DEK failures", () => {
  it("a DEK wrapped under master key A cannot be unwrapped with B: clear error naming both", async () => {
    await svc.createTenantKey("t1");
    const sealed = await svc.encryptField("t1", ref, "secret");
    const resolverB = await newResolver("master-b.key");
    const other = new CryptoService(resolverB, store);
    const err = await other.decryptField("t1", ref, sealed).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MasterKeyUnavailableError);
    expect((err as Error).message).toBe(
      `DEK was wrapped by master key ${resolverA.describe().masterLabel}, but the loaded master key is ${resolverB.describe().masterLabel}`,
    );
  });

  it("a tampered wrapped DEK fails with KeyUnwrapError", async () => {
    await svc.createTenantKey("t1");
    const sealed = await svc.encryptField("t1", ref, "secret");
    const [wrap] = store.listTenantKeys("t1")[0]?.wraps ?? [];
    const wrapped = wrap?.wrapped.slice() ?? new Uint8Array(0);
    wrapped[20] = (wrapped[20] ?? 0) ^ 0x80;
    rewriteWrap("t1", wrapped);
    const fresh = new CryptoService(resolverA, store);
    await expect(fresh.decryptField("t1", ref, sealed)).rejects.toThrow(KeyUnwrapError);
  });

  it("a wrapped DEK copied to another tenant's row fails (AAD binds tenant and version)", async () => {
    await svc.createTenantKey("t1");
    await svc.createTenantKey("t2");
    const sealed = await svc.encryptField("t2", ref, "secret");
    rewriteWrap("t2", store.listTenantKeys("t1")[0]?.wraps[0]?.wrapped ?? new Uint8Array(0));
    const fresh = new CryptoService(resolverA, store);
    await expect(fresh.decryptField("t2", ref, sealed)).rejects.toThrow(KeyUnwrapError);
  });
});

describe("platform sub-keys, used through handles", () => {
  const message = new TextEncoder().encode("probe");

  it("creates the wrapped root secret on first use and derives stable, distinct keys", async () => {
    expect(store.listTenantKeys(PLATFORM_TENANT_ID)).toHaveLength(0);
    const tag = (await svc.mac("audit-hmac")).mac(message);
    expect(store.listTenantKeys(PLATFORM_TENANT_ID)).toHaveLength(1);
    expect(toHex(tag)).toBe(toHex(hmac(sha256, await platformSubKey(resolverA, store, "audit-hmac"), message)));
    expect(toHex((await svc.mac("audit-hmac")).mac(message))).toBe(toHex(tag));
    const searchKey = await platformSubKey(resolverA, store, "search-index");
    expect(toHex(await svc.blindIndex("t1", "users.email", "a@example.com"))).toBe(
      toHex(hmac(sha256, searchKey, new TextEncoder().encode("users.email\u0000t1\u0000a@example.com"))),
    );
    const all = await Promise.all(SUB_KEY_LABELS.map((l) => platformSubKey(resolverA, store, l)));
    expect(new Set(all.map(toHex)).size).toBe(SUB_KEY_LABELS.length);
  });

  it("signs access tokens with the per-kid secret, the way jose verifies them, and verifies HS256 at+jwt only", async () => {
    const keys = svc.accessTokenKeys();
    const token = await keys.sign("kid-1", { sub: "u1" });
    const secret = await accessTokenSecret(resolverA, store, "kid-1");
    const checked = await jwtVerify(token, secret, { algorithms: ["HS256"], typ: "at+jwt" });
    expect(checked.protectedHeader).toEqual({ alg: "HS256", typ: "at+jwt", kid: "kid-1" });
    expect(checked.payload).toEqual({ sub: "u1" });
    expect((await keys.verify(token, () => undefined)).sub).toBe("u1");
    // The caller's kid check runs first and its refusal stands; HS384 with the real secret is refused.
    await expect(
      keys.verify(token, () => {
        throw new Error("untrusted kid");
      }),
    ).rejects.toThrow("untrusted kid");
    const hs384 = await new SignJWT({ sub: "u1" })
      .setProtectedHeader({ alg: "HS384", typ: "at+jwt", kid: "kid-1" })
      .sign(secret);
    await expect(keys.verify(hs384, () => undefined)).rejects.toThrow(JwsError);
    // jose's own HS256 token with the real secret is accepted when its header is exactly ours.
    const byJose = await new SignJWT({ sub: "u2" })
      .setProtectedHeader({ alg: "HS256", typ: "at+jwt", kid: "kid-1" })
      .sign(secret);
    expect((await keys.verify(byJose, () => undefined)).sub).toBe("u2");
  });

  it("survives a restart", async () => {
    const tag = (await svc.mac("audit-hmac")).mac(message);
    const restarted = new CryptoService(resolverA, store);
    expect(toHex((await restarted.mac("audit-hmac")).mac(message))).toBe(toHex(tag));
    expect((await restarted.mac("audit-hmac")).verify(message, tag)).toBe(true);
    expect((await restarted.mac("audit-hmac")).verify(message, tag.subarray(0, 31))).toBe(false);
  });

  it("creates exactly one root secret under concurrent first use", async () => {
    const keys = await Promise.all([1, 2, 3, 4].map(() => svc.mac("audit-hmac")));
    expect(new Set(keys.map((k) => toHex(k.mac(message)))).size).toBe(1);
    expect(store.listTenantKeys(PLATFORM_TENANT_ID)).toHaveLength(1);
  });

  it('refuses a MAC handle on a sub-key other keys derive from: mac("jwt") would hand out every kid\'s secret', async () => {
    await expect(svc.mac("jwt" as MacPurpose)).rejects.toThrow(CryptoParamError);
    await expect(svc.mac("search-index" as MacPurpose)).rejects.toThrow(CryptoParamError);
  });
});

describe("the installation signing key, used through a handle", () => {
  it("one key for every purpose, created once, stable across a restart", async () => {
    const [a, b] = await Promise.all([svc.signer("audit-checkpoint"), svc.signer("usage-report")]);
    expect(toHex(a.publicKey)).toBe(toHex(b.publicKey));
    expect(store.listTenantKeys(SIGNING_KEY_ID)).toHaveLength(1);
    const restarted = await new CryptoService(resolverA, store).signer("usage-report");
    expect(toHex(restarted.publicKey)).toBe(toHex(a.publicKey));
    const message = new TextEncoder().encode("m");
    expect(verifyEd25519(a.publicKey, message, restarted.sign(message))).toBe(true);
    await expect(svc.signer("licenses" as SigningPurpose)).rejects.toThrow(CryptoParamError);
  });
});

describe("handles never expose key bytes", () => {
  it("no own property holds a key; JSON shows nothing; inspect shows no key bytes", async () => {
    const signer = await svc.signer("audit-checkpoint");
    const mac = await svc.mac("audit-hmac");
    const tokens = svc.accessTokenKeys();
    await tokens.sign("kid-1", { sub: "u" }); // its secret is now cached inside
    const [seedRow] = store.listTenantKeys(SIGNING_KEY_ID);
    const seed = await resolverA.unwrap(
      { masterLabel: seedRow?.wraps[0]?.masterLabel ?? "", blob: seedRow?.wraps[0]?.wrapped ?? new Uint8Array() },
      dekAad(SIGNING_KEY_ID, 1),
    );
    const secrets = [
      seed,
      await platformSubKey(resolverA, store, "audit-hmac"),
      await accessTokenSecret(resolverA, store, "kid-1"),
    ];
    const forms = secrets.flatMap((k) => [
      toHex(k),
      Buffer.from(k).toString("base64").slice(0, 16),
      [...k.subarray(0, 6)].join(", "),
    ]);
    for (const handle of [signer, mac, tokens] as object[]) {
      for (const name of Reflect.ownKeys(handle)) {
        const value: unknown = (handle as Record<string | symbol, unknown>)[name];
        expect(value instanceof Uint8Array || value instanceof KeyObject, String(name)).toBe(false);
      }
      expect(JSON.stringify(handle)).toBe("{}");
      const printed = inspect(handle, { showHidden: true, depth: 10, getters: true });
      for (const form of forms) expect(printed).not.toContain(form);
    }
  });
});

/** An earlier master key whose HSM is away: every wrap and unwrap fails until it is back. */
class FlakyResolver extends CountingResolver {
  away = true;
  override wrap(dek: Uint8Array, aad: Uint8Array): Promise<WrappedKey> {
    return this.away ? Promise.reject(new MasterKeyUnavailableError("token away")) : super.wrap(dek, aad);
  }
}

describe("several master keys (a rotation in progress)", () => {
  it("wraps a new data key under every loaded master key, and reads it with either alone", async () => {
    const resolverB = await newResolver("master-b.key");
    const both = new CryptoService(new MasterKeyRing(resolverB, [resolverA]), store);
    await both.createTenantKey("t1");
    const sealed = await both.encryptField("t1", ref, "either key");
    expect(
      store
        .listTenantKeys("t1")[0]
        ?.wraps.map((w) => w.masterLabel)
        .sort(),
    ).toEqual([resolverB.describe().masterLabel, resolverA.describe().masterLabel].sort());
    expect(await new CryptoService(resolverA, store).decryptField("t1", ref, sealed)).toBe("either key");
    expect(await new CryptoService(resolverB, store).decryptField("t1", ref, sealed)).toBe("either key");
  });

  it("a data key wrapped only under the earlier key opens through a ring that holds it as previous", async () => {
    await svc.createTenantKey("t1");
    const sealed = await svc.encryptField("t1", ref, "old key only");
    const resolverB = await newResolver("master-b.key");
    expect(store.listTenantKeys("t1")[0]?.wraps.map((w) => w.masterLabel)).toEqual([resolverA.describe().masterLabel]);
    expect(
      await new CryptoService(new MasterKeyRing(resolverB, [resolverA]), store).decryptField("t1", ref, sealed),
    ).toBe("old key only");
    await expect(
      new CryptoService(new MasterKeyRing(resolverB), store).decryptField("t1", ref, sealed),
    ).rejects.toThrow(MasterKeyUnavailableError);
  });

  it("an unreachable earlier key does not stop new data keys; its wrap is added once it is back", async () => {
    const flaky = new FlakyResolver(await newResolver("master-b.key"));
    const ring = new MasterKeyRing(resolverA, [flaky]);
    const crypto = new CryptoService(ring, store);
    await crypto.createTenantKey("t1");
    expect(store.listTenantKeys("t1")[0]?.wraps.map((w) => w.masterLabel)).toEqual([resolverA.describe().masterLabel]);
    await expect(crypto.wrapUnderAllMasters(["t1"])).rejects.toThrow(MasterKeyUnavailableError);
    flaky.away = false;
    expect(await crypto.wrapUnderAllMasters(["t1"])).toBe(1);
    expect(await crypto.wrapUnderAllMasters(["t1"])).toBe(0);
    expect(store.listTenantKeys("t1")[0]?.wraps).toHaveLength(2);
  });

  it("does not wrap under a master key the keystore marks retired", async () => {
    const resolverB = await newResolver("master-b.key");
    keystore.registerMaster(resolverA.describe().masterLabel, "env", new Date().toISOString());
    keystore.retireMaster(resolverA.describe().masterLabel, new Date().toISOString());
    await new CryptoService(new MasterKeyRing(resolverB, [resolverA]), store).createTenantKey("t1");
    expect(store.listTenantKeys("t1")[0]?.wraps.map((w) => w.masterLabel)).toEqual([resolverB.describe().masterLabel]);
  });

  it("refuses a new data key when its current (and only) master key was retired by another process meanwhile; nothing is stored", async () => {
    const label = resolverA.describe().masterLabel;
    await svc.createTenantKey("t0");
    keystore.registerMaster(label, "env", new Date().toISOString());
    const other = await newResolver("master-b.key");
    keystore.registerMaster(other.describe().masterLabel, "env", new Date().toISOString());
    keystore.addWraps([
      {
        tenantId: "t0",
        version: 1,
        wraps: [{ masterLabel: other.describe().masterLabel, wrapped: new Uint8Array(60) }],
      },
    ]);
    keystore.retireMaster(label, new Date().toISOString());
    await expect(svc.createTenantKey("t1")).rejects.toThrow(new MasterKeyRetiredError(label));
    expect(store.listTenantKeys("t1")).toEqual([]);
    // Nor does its catch-up pass put a wrap back under the retired key.
    expect(await svc.wrapUnderAllMasters(["t0"])).toBe(0);
    expect(store.listTenantKeys("t0")[0]?.wraps.map((w) => w.masterLabel)).toEqual([other.describe().masterLabel]);
  });

  it("wraps only under the other loaded key when the current one is retired", async () => {
    const resolverB = await newResolver("master-b.key");
    keystore.registerMaster(resolverA.describe().masterLabel, "env", new Date().toISOString());
    keystore.retireMaster(resolverA.describe().masterLabel, new Date().toISOString());
    await new CryptoService(new MasterKeyRing(resolverA, [resolverB]), store).createTenantKey("t1");
    expect(store.listTenantKeys("t1")[0]?.wraps.map((w) => w.masterLabel)).toEqual([resolverB.describe().masterLabel]);
  });

  it("the keystore leaves out a wrap under a retired key inside its own transaction, whatever the caller believed", () => {
    const label = resolverA.describe().masterLabel;
    keystore.registerMaster(label, "env", new Date().toISOString());
    keystore.retireMaster(label, new Date().toISOString());
    const wraps = [{ masterLabel: label, wrapped: new Uint8Array(60) }];
    expect(() =>
      keystore.insertTenantKey({ tenantId: "t1", version: 1, wraps, createdAt: new Date().toISOString() }),
    ).toThrow(new MasterKeyRetiredError(label));
    expect(keystore.listTenantKeys("t1")).toEqual([]);
    keystore.insertTenantKey({
      tenantId: "t1",
      version: 1,
      wraps: [...wraps, { masterLabel: "env:other", wrapped: new Uint8Array(60) }],
      createdAt: new Date().toISOString(),
    });
    keystore.addWraps([{ tenantId: "t1", version: 1, wraps }]);
    expect(keystore.listTenantKeys("t1")[0]?.wraps.map((w) => w.masterLabel)).toEqual(["env:other"]);
  });
});
