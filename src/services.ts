/**
 * The composition root: opens the database, the key resolver and the crypto service for a
 * config, and assembles identity on top. Used by `serve`, `doctor` and the CLI alike, so every
 * command sees the same wiring.
 */
import type { Config, PreviousMasterKey } from "./config.js";
import { ConfigError } from "./config.js";
import { Authenticator } from "./auth/authenticate.js";
import { accountAdmin, type AccountAdmin } from "./auth/account-admin.js";
import { passwordFlows, type PasswordFlows } from "./auth/password-flows.js";
import { AuditAnchor } from "./audit/anchor.js";
import { Checkpointer } from "./audit/checkpointer.js";
import { makeCheckpoints } from "./audit/checkpoints.js";
import { auditEventSink, auditLogLines, type EventSink } from "./audit/events.js";
import { ReadAudit } from "./audit/read-audit.js";
import { auditTrail, type AuditTrail } from "./audit/reader-access.js";
import { actorNames } from "./auth/actor-names.js";
import { HmacAuditSealer } from "./audit/seal.js";
import { notifyFromEvent } from "./notify/notifications.js";
import { erasureJournal } from "./backup/erasure-journal.js";
import type { ErasureJournal } from "./vocabulary/erasure.js";
import type { Actor } from "./vocabulary/events.js";
import { AccessTokens } from "./auth/jwt.js";
import { MIN_ARGON2, PasswordHasher } from "./auth/passwords.js";
import { DEFAULT_SESSION_POLICY, Sessions } from "./auth/sessions.js";
import { sealPlaintextTenantNames } from "./auth/tenant-names.js";
import { LoginThrottle } from "./auth/throttle.js";
import {
  CryptoService,
  EnvKeyResolver,
  generateHsmMasterKey,
  generateMasterKeyFile,
  MasterKeyRing,
  Pkcs11KeyResolver,
  type KeyResolver,
} from "./crypto/index.js";
import { existsSync } from "node:fs";
import { dataDirLocked } from "./db/data-dir-lock.js";
import { Database } from "./db/db.js";
import type { ServingRecord } from "./db/keystore.js";
import type { TenantDoor } from "./db/tenant-db.js";
import type { GraphDeps } from "./graph/projects.js";
import { keyHealth, type KeyHealth } from "./key-admin/health.js";
import {
  recordDekRotated,
  registerLoadedMasters,
  rotateMaster,
  rotateTenantKey,
  type KeyDeps,
  type MasterRotation,
} from "./key-admin/rotation.js";
import { keyStatus, type KeyStatus } from "./key-admin/status.js";
import type { Logger } from "./log.js";
import type { VendorKey } from "./license/format.js";
import { LicenseService } from "./license/license.js";
import { VENDOR_KEYS } from "./license/vendor-keys.js";
import { UsageService } from "./usage/usage.js";
import { aiService, type AiService } from "./ai/service.js";
import { providerConnector } from "./ai/providers/connect.js";
import { ollamaProvider } from "./ai/providers/ollama.js";
import { createEgress } from "./egress.js";
import { VERSION } from "./version.js";

export interface Identity {
  readonly authenticator: Authenticator;
  readonly sessions: Sessions;
  /** Setup, tenants, people, erasure, tenant settings: bound to their dependencies (src/auth/account-admin.ts). */
  readonly accounts: AccountAdmin;
  /** Password change, admin-issued reset, root recovery: bound to their dependencies (src/auth/password-flows.ts). */
  readonly passwordFlows: PasswordFlows;
  readonly accessTokens: AccessTokens;
  readonly events: EventSink;
  /** Read events, by each tenant's read-audit setting, appended in batches off the request path (src/audit/read-audit.ts). */
  readonly reads: ReadAudit;
}

/** A master key to load or create: a key file, or a key label in the configured PKCS#11 token. */
export type MasterKeyTarget = PreviousMasterKey;

/** What key administration (rotation, re-encryption, retirement) needs, and how to open another master key: for the CLI and the jobs. */
export interface KeyAdmin extends KeyDeps {
  /** Loads the master key, creating it first if it does not exist (a new 0600 file, or a non-extractable HSM key). */
  openMaster(target: MasterKeyTarget): Promise<KeyResolver>;
  /** The master keys of the server running on this data directory now (it holds vecto.lock); null when none runs. */
  readonly runningServer: () => ServingRecord | null;
}

/** Key administration as the HTTP side calls it, bound here to the database and the keys (src/server never holds them). */
export interface KeyOperations {
  /** The master keys, every data-key version and re-encryption progress, no key material (GET /api/keys/status, `vecto keys status`). */
  status(): KeyStatus;
  /** Whether the loaded master keys open every data key, tenant ids only, no labels (GET /readyz). */
  health(): KeyHealth;
  /** Opens (or creates) the new master key and makes it current, every data key wrapped under it (POST /api/keys/rotate). */
  rotateMaster(target: MasterKeyTarget, actor: Actor): Promise<MasterRotation>;
  /** A new data-key version for the tenant (POST /api/tenants/:id/keys/rotate). */
  rotateTenantKey(tenantId: string, actor: Actor): Promise<{ version: number }>;
}

/** Readiness checks on the database, without writing (GET /readyz); each throws what is wrong. */
export interface StorageProbes {
  /** The database answers a query. */
  database(): void;
  /** The data directory has room to write, and the last write did not find the disk full. */
  storage(): void;
}

/** What is awaited before data read from the database leaves the process (Database.whenDurable, src/db/wal-sync.ts). */
export interface DurableReads {
  /** A Promise for every commit so far to be on disk; undefined when they are. */
  whenDurable(): Promise<void> | undefined;
}

export interface Services {
  /** The platform database: for platform modules and the CLI. src/server never receives it (src/server/deps.ts); it gets the parts below. */
  readonly db: Database;
  /** One tenant's data, for a scope authentication minted: the only way the HTTP side reaches tenant data. */
  readonly door: TenantDoor;
  readonly probes: StorageProbes;
  /** Awaited before an answer that read the database leaves (src/server/middleware/durable-answers.ts). */
  readonly durability: DurableReads;
  /** The audit trail as the API reaches it: exports, verification, proofs, checkpoints on demand. */
  readonly auditTrail: AuditTrail;
  /** The master keys in use: the configured one, current, and VECTO_PREVIOUS_MASTER_KEYS for unwrapping. */
  readonly resolver: MasterKeyRing;
  readonly crypto: CryptoService;
  readonly keyAdmin: KeyAdmin;
  readonly keys: KeyOperations;
  readonly identity: Identity;
  readonly graph: GraphDeps;
  /** The license in effect, its limits and the clock's high-water mark (docs/licensing.md). */
  readonly license: LicenseService;
  /** Daily usage snapshots and the signed usage report. */
  readonly usage: UsageService;
  /** AI governance: providers per tenant and use case, the streamed features, every call recorded (src/ai/). */
  readonly ai: AiService;
  /** Where every signed audit checkpoint is also appended, outside the database (VECTO_AUDIT_ANCHOR_DIR). */
  readonly auditAnchor: AuditAnchor;
  /** Checkpoints each log soon after it grew; idle until `vecto serve` starts it (src/audit/checkpointer.ts). */
  readonly checkpointer: Checkpointer;
  close(): void;
}

export interface ServiceOptions {
  /**
   * The vendor keys licenses must be signed with. The product always uses the list compiled into
   * it (src/license/vendor-keys.ts); tests pass their own key here, through this same wiring.
   * There is deliberately no configuration setting for it: a configurable trust anchor is a bypass.
   */
  readonly vendorKeys?: readonly VendorKey[];
  /** The clock (database timestamps, sessions, license and usage); tests pass a movable one. */
  readonly now?: () => Date;
}

function pkcs11Settings(config: Config): NonNullable<Config["pkcs11"]> {
  if (config.pkcs11 === null)
    throw new ConfigError("VECTO_PKCS11_LIB: a PKCS#11 master key needs the VECTO_PKCS11_* settings");
  return config.pkcs11;
}

/** Loads a master key that must exist. */
async function loadMaster(config: Config, target: MasterKeyTarget): Promise<KeyResolver> {
  if (target.kind === "pkcs11") return Pkcs11KeyResolver.open({ ...pkcs11Settings(config), keyLabel: target.keyLabel });
  return EnvKeyResolver.fromFile(target.file);
}

/** Loads a master key, creating it first when it does not exist yet. */
export async function openOrCreateMaster(config: Config, target: MasterKeyTarget): Promise<KeyResolver> {
  if (target.kind === "env") {
    if (!existsSync(target.file)) await generateMasterKeyFile(target.file);
    return loadMaster(config, target);
  }
  try {
    return await loadMaster(config, target);
  } catch {
    // Most often the label does not exist yet; any other cause (PIN, token) makes generation fail with its own message.
    await generateHsmMasterKey({ ...pkcs11Settings(config), keyLabel: target.keyLabel });
    return loadMaster(config, target);
  }
}

/** The configured master key, current, with the previous ones loaded for unwrapping. */
export async function openKeyResolver(config: Config): Promise<MasterKeyRing> {
  const current =
    config.keyResolver === "pkcs11"
      ? await loadMaster(config, { kind: "pkcs11", keyLabel: pkcs11Settings(config).keyLabel })
      : await loadMaster(config, { kind: "env", file: config.masterKeyFile });
  const previous: KeyResolver[] = [];
  for (const target of config.previousMasterKeys) previous.push(await loadMaster(config, target));
  return new MasterKeyRing(current, previous);
}

export function createIdentity(
  db: Database,
  crypto: CryptoService,
  log: Logger,
  license: Pick<LicenseService, "assertCanCreate">,
  options: { erasures: ErasureJournal; now: () => Date; rootRecovery: boolean; argon2Concurrency: number },
): Identity {
  const { erasures, now, rootRecovery } = options;
  const events = auditEventSink(db);
  const passwords = new PasswordHasher(MIN_ARGON2, options.argon2Concurrency);
  const accessTokens = new AccessTokens(db, crypto, `vecto:${db.installationId()}`, "vecto-api", now);
  const throttle = new LoginThrottle(db, now);
  const sessions = new Sessions({
    db,
    crypto,
    passwords,
    accessTokens,
    throttle,
    events,
    policy: DEFAULT_SESSION_POLICY,
    now,
  });
  return {
    authenticator: new Authenticator(db, accessTokens, now),
    sessions,
    accounts: accountAdmin({ db, crypto, passwords, events, license, erasures }),
    passwordFlows: passwordFlows({ db, crypto, passwords, events, throttle, now, rootRecovery }),
    accessTokens,
    events,
    reads: new ReadAudit({ db, events, log }),
  };
}

/** Queued read events are written first (the batcher starts its write before returning), then the database is closed. */
function closeServices(identity: Identity, db: Database): void {
  void identity.reads.close();
  db.close();
}

/** The AI domain, reaching providers only through the egress guard built from the configuration. */
function openAi(config: Config, log: Logger, parts: { crypto: CryptoService; graph: GraphDeps }): AiService {
  const egress = createEgress({ allow: config.egressAllow }, log);
  const ollama = ollamaProvider({ url: config.ollamaUrl, egress });
  return aiService({
    ...parts,
    platform: { airgapped: config.airgapped, ollamaUrl: config.ollamaUrl },
    connect: providerConnector(egress, config.ollamaUrl),
    timeoutMs: config.aiTimeoutSeconds * 1000,
    payloadRetentionDays: config.aiPayloadRetentionDays,
    ollamaModels: (signal) => ollama.listModels(signal),
  });
}

export async function openServices(config: Config, log: Logger, options: ServiceOptions = {}): Promise<Services> {
  const now = options.now ?? (() => new Date());
  const resolver = await openKeyResolver(config);
  const db = Database.open(config.databaseFile, { now, durability: config.durability });
  // What follows every audit event into its transaction: the user notifications it names, its log line.
  db.followEvents(notifyFromEvent);
  db.followEvents(auditLogLines(db, log));
  // The anchor in the token follows the ring's current key (pkcs11 only).
  const auditAnchor = new AuditAnchor(config.auditAnchorDir, log, resolver);
  // Runs only once serve started it, long after crypto below exists; told after each commit which logs grew.
  const checkpointer = new Checkpointer(
    async (logs) => (await makeCheckpoints(db, crypto, auditAnchor, { logs, now })).length,
    log,
  );
  db.onCommitted((committed) => {
    for (const logId of committed.logIds) checkpointer.grew(logId);
  });
  // Stateless over db: the same sink identity makes, available before identity exists.
  const events = auditEventSink(db);
  const crypto = new CryptoService(resolver, db.keystore, {
    maxEncryptionsPerKey: config.dekMaxEncryptions,
    onForcedRotation: (tenantId, version) =>
      recordDekRotated(events, tenantId, version, { type: "system", id: "crypto" }, "encryption-limit"),
  });
  db.setAuditSealer(new HmacAuditSealer(await crypto.mac("audit-hmac")));
  const license = new LicenseService({ db, events, vendorKeys: options.vendorKeys ?? VENDOR_KEYS, now });
  const usage = new UsageService({ db, crypto, events, license, now, appVersion: VERSION });
  const erasures = erasureJournal(config, log);
  const identity = createIdentity(db, crypto, log, license, {
    erasures,
    now,
    rootRecovery: config.rootRecovery,
    argon2Concurrency: config.argon2Concurrency,
  });
  const keyAdmin: KeyAdmin = {
    db,
    crypto,
    events: identity.events,
    now,
    openMaster: (target) => openOrCreateMaster(config, target),
    // A record left by a server that crashed is ignored: nobody holds the lock then.
    runningServer: () => (dataDirLocked(config.dataDir) ? db.keystore.servingRecord() : null),
  };
  const keys: KeyOperations = {
    status: () => keyStatus(db, crypto, keyAdmin.runningServer()),
    health: () =>
      keyHealth(
        db.keystore,
        { currentLabel: crypto.masterKeys.currentLabel, loadedLabels: crypto.masterKeys.labels() },
        false,
      ),
    rotateMaster: async (target, actor) => rotateMaster(keyAdmin, await keyAdmin.openMaster(target), actor),
    rotateTenantKey: (tenantId, actor) => rotateTenantKey(keyAdmin, tenantId, actor),
  };
  registerLoadedMasters(keyAdmin);
  await sealPlaintextTenantNames({ db, crypto, events: identity.events });
  // Fresh objects that close over db, so the parts handed to the HTTP side are not the database itself.
  const door: TenantDoor = { forTenant: (scope) => db.forTenant(scope) };
  const probes: StorageProbes = { database: () => db.ping(), storage: () => db.checkStorage() };
  const durability: DurableReads = { whenDurable: () => db.whenDurable() };
  const ai = openAi(config, log, { crypto, graph: { crypto, events: identity.events, erasures } });
  const trail = auditTrail({
    db,
    crypto,
    anchor: auditAnchor,
    events: identity.events,
    names: () => actorNames({ db, crypto }),
  });
  return {
    db,
    door,
    probes,
    durability,
    auditTrail: trail,
    resolver,
    crypto,
    keyAdmin,
    keys,
    identity,
    graph: { crypto, events: identity.events, erasures },
    ai,
    license,
    usage,
    auditAnchor,
    checkpointer,
    close: () => closeServices(identity, db),
  };
}
