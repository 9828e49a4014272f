/**
 * Key management costs, same run, same machine:
 * - DEK unwrap latency through the env resolver (AES-GCM in process) and through a real SoftHSM2
 *   token (C_Decrypt over PKCS#11), and the cache-hit path that serves almost every request
 *   (decryptField of a small value with the DEK already unwrapped);
 * - re-wrapping 10,000 tenant data keys under a new master key (env -> env, env -> SoftHSM).
 * Ratios are against the env resolver's unwrap measured in the same run.
 */
import { join } from "node:path";
import { CryptoService } from "../src/crypto/crypto-service.js";
import { dekAad } from "../src/crypto/field-cipher.js";
import type { KeyResolver } from "../src/crypto/key-resolver.js";
import { EnvKeyResolver, generateMasterKeyFile } from "../src/crypto/resolvers/env.js";
import { generateHsmMasterKey, Pkcs11KeyResolver } from "../src/crypto/resolvers/pkcs11.js";
import { KeyStore } from "../src/db/keystore.js";
import { createSoftHsmToken } from "../test/fixtures/softhsm.js";
import { tempDir } from "../test/helpers.js";
import { percentile, round } from "./stats.js";

const UNWRAPS = 3000;
const TENANTS = 10_000;

interface Latency {
  readonly path: string;
  readonly n: number;
  readonly p50us: number;
  readonly p99us: number;
  readonly meanUs: number;
}

async function time(path: string, n: number, op: () => Promise<unknown>): Promise<Latency> {
  for (let i = 0; i < Math.min(200, n); i++) await op();
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await op();
    samples.push((performance.now() - t) * 1000);
  }
  samples.sort((a, b) => a - b);
  return {
    path,
    n,
    p50us: round(percentile(samples, 0.5), 1),
    p99us: round(percentile(samples, 0.99), 1),
    meanUs: round(samples.reduce((s, x) => s + x, 0) / n, 1),
  };
}

async function unwrapLatency(resolver: KeyResolver, path: string): Promise<Latency> {
  const aad = dekAad("bench-tenant", 1);
  const wrapped = await resolver.wrap(new Uint8Array(32).fill(7), aad);
  return time(path, UNWRAPS, () => resolver.unwrap(wrapped, aad));
}

async function rewrap(
  from: KeyResolver,
  to: KeyResolver,
  dir: string,
  label: string,
): Promise<{ path: string; keys: number; seconds: number; keysPerSec: number }> {
  const store = KeyStore.open(join(dir, `${label}.db`), { now: () => new Date().toISOString() });
  try {
    const crypto = new CryptoService(from, store);
    for (let i = 0; i < TENANTS; i++) await crypto.createTenantKey(`t${i}`);
    // A fresh service: nothing cached, so every DEK is unwrapped under the old key and wrapped under the new.
    const fresh = new CryptoService(from, store);
    fresh.masterKeys.add(to);
    const started = performance.now();
    const added = await fresh.wrapUnderAllMasters(store.keyOwners());
    const seconds = (performance.now() - started) / 1000;
    if (added !== TENANTS) throw new Error(`expected ${TENANTS} wraps, got ${added}`);
    return { path: label, keys: TENANTS, seconds: round(seconds, 2), keysPerSec: Math.round(TENANTS / seconds) };
  } finally {
    store.close();
  }
}

export async function run(): Promise<Record<string, unknown>> {
  const dir = tempDir("vecto-bench-keys-");
  const hsm = createSoftHsmToken({ tokenLabel: "vecto-bench" });
  process.env.SOFTHSM2_CONF = hsm.conf;
  try {
    const keyFile = join(dir.path, "master.key");
    const keyFile2 = join(dir.path, "master-2.key");
    await generateMasterKeyFile(keyFile);
    await generateMasterKeyFile(keyFile2);
    const env = await EnvKeyResolver.fromFile(keyFile);
    const env2 = await EnvKeyResolver.fromFile(keyFile2);
    const hsmConfig = {
      library: hsm.library,
      tokenLabel: hsm.tokenLabel,
      pinFile: hsm.pinFile,
      keyLabel: "bench-master",
    };
    await generateHsmMasterKey(hsmConfig);
    const pkcs11 = await Pkcs11KeyResolver.open(hsmConfig);

    const envUnwrap = await unwrapLatency(env, "unwrap: env resolver");
    const hsmUnwrap = await unwrapLatency(pkcs11, "unwrap: SoftHSM2 (PKCS#11)");
    const store = KeyStore.open(join(dir.path, "cache.db"), { now: () => new Date().toISOString() });
    const crypto = new CryptoService(env, store);
    await crypto.createTenantKey("acme");
    const ref = { table: "nodes", column: "title", rowId: "n1" };
    const sealed = await crypto.encryptField("acme", ref, "Adopt the envelope scheme");
    const cacheHit = await time("decryptField, DEK cached", UNWRAPS * 5, () =>
      crypto.decryptField("acme", ref, sealed),
    );
    store.close();

    const rewrapEnv = await rewrap(env, env2, dir.path, "re-wrap 10k DEKs: env -> env");
    const rewrapHsm = await rewrap(env, pkcs11, dir.path, "re-wrap 10k DEKs: env -> SoftHSM2");
    await pkcs11.close();

    const latencies = [envUnwrap, hsmUnwrap, cacheHit];
    return {
      summary: [
        ...latencies.map((l) => ({
          measure: l.path,
          p50us: l.p50us,
          p99us: l.p99us,
          meanUs: l.meanUs,
          ratioToEnvUnwrap: round(l.meanUs / envUnwrap.meanUs, 2),
        })),
        ...[rewrapEnv, rewrapHsm].map((r) => ({ measure: r.path, seconds: r.seconds, keysPerSec: r.keysPerSec })),
      ],
      latencies,
      rewrap: [rewrapEnv, rewrapHsm],
    };
  } finally {
    hsm.cleanup();
    dir.cleanup();
  }
}
