/**
 * The composition root: opens the database, the key resolver and the crypto service for a
 * config. Used by `serve`, `doctor` and `setup-token` alike, so every command sees the same wiring.
 */
import type { Config } from "./config.js";
import { ConfigError } from "./config.js";
import { CryptoService } from "./crypto/crypto-service.js";
import type { KeyResolver } from "./crypto/key-resolver.js";
import { EnvKeyResolver } from "./crypto/resolvers/env.js";
import { Database } from "./db/db.js";

export interface Services {
  readonly db: Database;
  readonly resolver: KeyResolver;
  readonly crypto: CryptoService;
  close(): void;
}

export async function openKeyResolver(config: Config): Promise<KeyResolver> {
  if (config.keyResolver === "pkcs11") {
    throw new ConfigError("VECTO_KEY_RESOLVER: pkcs11 is not available in this build yet; use env");
  }
  return EnvKeyResolver.fromFile(config.masterKeyFile);
}

export async function openServices(config: Config): Promise<Services> {
  const resolver = await openKeyResolver(config);
  const db = Database.open(config.databaseFile);
  const crypto = new CryptoService(resolver, db.tenantKeys);
  return { db, resolver, crypto, close: () => db.close() };
}
