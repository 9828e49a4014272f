/**
 * The composition root: opens the database, the key resolver and the crypto service for a
 * config, and assembles identity on top. Used by `serve`, `doctor` and the CLI alike, so every
 * command sees the same wiring.
 */
import type { Config } from "./config.js";
import { ConfigError } from "./config.js";
import { Authenticator } from "./auth/authenticate.js";
import type { AccountDeps } from "./auth/accounts.js";
import { auditEventSink, type EventSink } from "./audit/events.js";
import { HmacAuditSealer } from "./audit/seal.js";
import { AccessTokens } from "./auth/jwt.js";
import { MIN_ARGON2, PasswordHasher } from "./auth/passwords.js";
import { DEFAULT_SESSION_POLICY, Sessions } from "./auth/sessions.js";
import { LoginThrottle } from "./auth/throttle.js";
import { CryptoService } from "./crypto/crypto-service.js";
import type { KeyResolver } from "./crypto/key-resolver.js";
import { EnvKeyResolver } from "./crypto/resolvers/env.js";
import { Pkcs11KeyResolver } from "./crypto/resolvers/pkcs11.js";
import { Database } from "./db/db.js";
import type { GraphDeps } from "./graph/projects.js";
import type { Logger } from "./log.js";

export interface Identity {
  readonly authenticator: Authenticator;
  readonly sessions: Sessions;
  readonly accounts: AccountDeps;
  readonly accessTokens: AccessTokens;
  readonly events: EventSink;
}

export interface Services {
  readonly db: Database;
  readonly resolver: KeyResolver;
  readonly crypto: CryptoService;
  readonly identity: Identity;
  readonly graph: GraphDeps;
  close(): void;
}

export async function openKeyResolver(config: Config): Promise<KeyResolver> {
  if (config.keyResolver === "pkcs11") {
    if (config.pkcs11 === null) throw new ConfigError("VECTO_KEY_RESOLVER: pkcs11 needs the VECTO_PKCS11_* settings");
    return Pkcs11KeyResolver.open(config.pkcs11);
  }
  return EnvKeyResolver.fromFile(config.masterKeyFile);
}

export function createIdentity(db: Database, crypto: CryptoService, log: Logger, now: () => Date = () => new Date()): Identity {
  const events = auditEventSink(db, log);
  const passwords = new PasswordHasher(MIN_ARGON2);
  const accessTokens = new AccessTokens(db, crypto, `vecto:${db.installationId()}`, "vecto-api", now);
  const throttle = new LoginThrottle(db, now);
  const sessions = new Sessions({ db, crypto, passwords, accessTokens, throttle, events, policy: DEFAULT_SESSION_POLICY, now });
  return { authenticator: new Authenticator(db, accessTokens, now), sessions, accounts: { db, crypto, passwords, events }, accessTokens, events };
}

export async function openServices(config: Config, log: Logger): Promise<Services> {
  const resolver = await openKeyResolver(config);
  const db = Database.open(config.databaseFile);
  const crypto = new CryptoService(resolver, db.keystore);
  db.setAuditSealer(new HmacAuditSealer(await crypto.macFunction("audit-hmac")));
  const identity = createIdentity(db, crypto, log);
  return { db, resolver, crypto, identity, graph: { crypto, events: identity.events }, close: () => db.close() };
}
