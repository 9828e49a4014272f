/**
 * The one typed configuration of the appliance.
 *
 * Sources, later wins: embedded defaults < env file (/etc/vecto/vecto.env or VECTO_ENV_FILE)
 * < process environment. This is the only module that reads process.env: everything else
 * receives a `Config`.
 */
import { existsSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import { validate as validCron } from "node-cron";
import { z } from "zod";
import { isDnsName, normalizeAddress, parseCidr, type Cidr } from "./net-address.js";

export const DEFAULT_ENV_FILE = "/etc/vecto/vecto.env";

export type KeyResolverKind = "env" | "pkcs11";
export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

export interface Pkcs11Config {
  readonly library: string;
  readonly tokenLabel: string;
  readonly pinFile: string;
  readonly keyLabel: string;
}

/** An earlier master key, kept for unwrapping until it is retired (see docs/key-rotation.md). */
export type PreviousMasterKey =
  { readonly kind: "env"; readonly file: string } | { readonly kind: "pkcs11"; readonly keyLabel: string };

export interface Config {
  readonly dataDir: string;
  readonly databaseFile: string;
  readonly cacheDir: string;
  readonly listen: ListenAddress;
  /** Plain-HTTP listener that only redirects to HTTPS; null when not wanted. */
  readonly redirectListen: ListenAddress | null;
  readonly tls: {
    readonly certFile: string;
    readonly keyFile: string;
    /** True when no certificate was configured: a self-signed one is generated in the data dir. */
    readonly selfSigned: boolean;
    /** VECTO_TLS_CLIENT_CA: CA certificates a client certificate must chain to (mutual TLS); null: none asked. */
    readonly clientCaFile: string | null;
    /** VECTO_TLS_NAMES: extra DNS names and IP addresses (IPv6 without brackets) of the self-signed certificate. */
    readonly names: readonly string[];
  };
  readonly keyResolver: KeyResolverKind;
  readonly masterKeyFile: string;
  /** True when no master key was configured: a dev-only key file is generated in the data dir. */
  readonly devMasterKey: boolean;
  /** PKCS#11 settings: present when the resolver is pkcs11, or when VECTO_PKCS11_LIB is set (migration to or from an HSM). */
  readonly pkcs11: Pkcs11Config | null;
  readonly previousMasterKeys: readonly PreviousMasterKey[];
  /** A data key is rotated automatically once this many encryptions were made under it. */
  readonly dekMaxEncryptions: number;
  readonly airgapped: boolean;
  readonly ollamaUrl: string;
  /** Extra host:port pairs that src/egress.ts may reach beyond loopback. */
  readonly egressAllow: readonly string[];
  readonly logLevel: LogLevel;
  readonly bodyLimitBytes: number;
  /** Lifetime of the one-time setup token, in seconds. */
  readonly setupTokenTtlSeconds: number;
  /** VECTO_ROOT_RECOVERY: whether `vecto recover-root` may issue, and the server accept, a recovery token for the platform root. */
  readonly rootRecovery: boolean;
  readonly backup: BackupConfig;
  /** VECTO_AUDIT_ANCHOR_DIR: where every signed audit checkpoint is also appended (docs/audit.md#anchors-checkpoints-kept-outside-the-database). */
  readonly auditAnchorDir: string;
  /** Reverse proxies whose X-Forwarded-For names the client (VECTO_TRUSTED_PROXIES); empty: the TCP peer is the client. */
  readonly trustedProxies: readonly Cidr[];
  readonly rateLimit: RateLimitConfig;
  /**
   * VECTO_ARGON2_CONCURRENCY: password hashes and checks that may run at once; the rest queue. Always
   * below the size of libuv's thread pool, so a login storm never takes every thread of it.
   */
  readonly argon2Concurrency: number;
  /**
   * VECTO_SQLITE_SYNCHRONOUS: "full" (default), a write is acknowledged once it is on disk;
   * "normal", once it is committed, so a power cut (not a crash) may take the last ones back
   * (src/db/wal-sync.ts, docs/operator-guide.md).
   */
  readonly durability: "full" | "normal";
  /** VECTO_AI_TIMEOUT_SECONDS: the longest a call to a language model may take, first byte to last. */
  readonly aiTimeoutSeconds: number;
  /** VECTO_AI_PAYLOAD_RETENTION_DAYS: how long what was sent to a model (and its answer) is kept, sealed; 0 keeps none. */
  readonly aiPayloadRetentionDays: number;
}

/** API requests per minute (token buckets, src/server/middleware/rate-limit.ts); null: that limit is off. */
export interface RateLimitConfig {
  readonly perCredential: number | null;
  readonly perAddress: number | null;
}

/**
 * 600 a minute per credential is ten a second sustained, with a minute's worth as burst: far above
 * what a person or a well-behaved script does, low enough that one token cannot monopolise the
 * server. Per address twice that, since people behind one NAT share an address.
 */
export const DEFAULT_RATE_LIMIT = { perCredential: 600, perAddress: 1200 } as const satisfies RateLimitConfig;

export interface BackupConfig {
  /** Where `vecto backup create` and the scheduled job write backups. */
  readonly dir: string;
  /** Cron expression of the scheduled backup inside `vecto serve`; null: no scheduled backups. */
  readonly schedule: string | null;
  /** Full backups the scheduled job keeps (the newest, verified ones). */
  readonly keep: number;
}

/** Raised for invalid configuration; the message is one line that names the variable. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

type Env = Readonly<Record<string, string | undefined>>;

const listenSchema = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, "expected host:port")
  .transform((value, ctx): ListenAddress => {
    const at = value.lastIndexOf(":");
    const host = value.slice(0, at).replace(/^\[(.*)\]$/, "$1");
    const port = Number(value.slice(at + 1));
    if (port > 65535) ctx.addIssue({ code: "custom", message: "port must be 0-65535 (0: any free port)" });
    return { host, port };
  });

const booleanSchema = z
  .enum(["true", "false", "1", "0", "yes", "no"], { message: "expected true or false" })
  .transform((v) => v === "true" || v === "1" || v === "yes");

const positiveIntSchema = z
  .string()
  .regex(/^\d+$/, "expected a whole number")
  .transform(Number)
  .refine((n) => n > 0, "must be greater than 0");

const urlSchema = z.url({ protocol: /^https?$/, message: "expected an http(s) URL" });

/** Parses a systemd-style env file: KEY=VALUE lines, # comments, optional quotes. */
export function parseEnvFile(text: string, file: string): Record<string, string> {
  const out: Record<string, string> = {};
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const match = /^([A-Z_][A-Z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!match) throw new ConfigError(`${file}:${index + 1}: expected KEY=VALUE`);
    const [, key, value] = match as unknown as [string, string, string];
    out[key] = value.replace(/^"(.*)"$/, "$1").replace(/^'(.*)'$/, "$1");
  });
  return out;
}

function readEnvFile(path: string, required: boolean): Record<string, string> {
  if (!existsSync(path)) {
    if (required) throw new ConfigError(`VECTO_ENV_FILE: ${path} does not exist`);
    return {};
  }
  try {
    return parseEnvFile(readFileSync(path, "utf8"), path);
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(`VECTO_ENV_FILE: cannot read ${path}`);
  }
}

/** Merges the env file and the process environment (process wins), keeping only VECTO_* and systemd's directory variables. */
export function collectEnv(processEnv: Env = process.env): Env {
  const explicitFile = processEnv.VECTO_ENV_FILE;
  const fileValues = readEnvFile(explicitFile ?? DEFAULT_ENV_FILE, explicitFile !== undefined);
  const merged: Record<string, string | undefined> = { ...fileValues };
  for (const [key, value] of Object.entries(processEnv)) {
    if (
      key.startsWith("VECTO_") ||
      key === "CREDENTIALS_DIRECTORY" ||
      key === "CACHE_DIRECTORY" ||
      key === "STATE_DIRECTORY"
    ) {
      if (value !== undefined && value !== "") merged[key] = value;
    }
  }
  return merged;
}

function parse<T>(env: Env, name: string, schema: z.ZodType<T>, fallback: string): T;
function parse<T>(env: Env, name: string, schema: z.ZodType<T>): T | undefined;
function parse<T>(env: Env, name: string, schema: z.ZodType<T>, fallback?: string): T | undefined {
  const raw = env[name] ?? fallback;
  if (raw === undefined) return undefined;
  const result = schema.safeParse(raw);
  if (!result.success) {
    const reason = result.error.issues[0]?.message ?? "invalid value";
    throw new ConfigError(`${name}: ${reason} (got "${truncate(withoutCredentials(raw))}")`);
  }
  return result.data;
}

/** A URL's user and password never reach the error line (and so the terminal or the journal). */
function withoutCredentials(value: string): string {
  if (!URL.canParse(value)) return value;
  const url = new URL(value);
  if (url.username === "" && url.password === "") return value;
  url.username = "***";
  url.password = "";
  return url.href;
}

function truncate(value: string): string {
  return value.length > 60 ? `${value.slice(0, 57)}...` : value;
}

function absolute(path: string, base: string): string {
  return isAbsolute(path) ? path : resolve(base, path);
}

function required(env: Env, name: string, why: string): string {
  const value = env[name];
  if (value === undefined) throw new ConfigError(`${name}: required ${why}`);
  return value;
}

/** Comma-separated DNS names and IP addresses; an IPv6 address is written bare ("fd00::5"), as a certificate names it. */
function tlsNames(env: Env): string[] {
  const entries = (env.VECTO_TLS_NAMES ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  return entries.map((entry) => {
    if (/^\[.*\]$/.test(entry))
      throw new ConfigError(`VECTO_TLS_NAMES: write an IPv6 address without brackets (got "${truncate(entry)}")`);
    const ip = normalizeAddress(entry);
    if (ip !== undefined) return ip;
    if (isDnsName(entry)) return entry.toLowerCase();
    throw new ConfigError(
      `VECTO_TLS_NAMES: expected DNS names or IP addresses separated by commas (got "${truncate(entry)}")`,
    );
  });
}

function tlsConfig(env: Env, dataDir: string, cwd: string): Config["tls"] {
  const cert = env.VECTO_TLS_CERT;
  const key = env.VECTO_TLS_KEY;
  const clientCaFile = env.VECTO_TLS_CLIENT_CA === undefined ? null : absolute(env.VECTO_TLS_CLIENT_CA, cwd);
  const names = tlsNames(env);
  if ((cert === undefined) !== (key === undefined)) {
    throw new ConfigError(
      `${cert === undefined ? "VECTO_TLS_CERT" : "VECTO_TLS_KEY"}: set VECTO_TLS_CERT and VECTO_TLS_KEY together`,
    );
  }
  if (cert !== undefined && key !== undefined) {
    return { certFile: absolute(cert, cwd), keyFile: absolute(key, cwd), selfSigned: false, clientCaFile, names };
  }
  return {
    certFile: join(dataDir, "tls", "cert.pem"),
    keyFile: join(dataDir, "tls", "key.pem"),
    selfSigned: true,
    clientCaFile,
    names,
  };
}

function masterKeyConfig(env: Env, dataDir: string, cwd: string): { masterKeyFile: string; devMasterKey: boolean } {
  if (env.VECTO_MASTER_KEY_FILE !== undefined)
    return { masterKeyFile: absolute(env.VECTO_MASTER_KEY_FILE, cwd), devMasterKey: false };
  // systemd LoadCredential=master-key:... puts the file here.
  if (env.CREDENTIALS_DIRECTORY !== undefined)
    return { masterKeyFile: join(env.CREDENTIALS_DIRECTORY, "master-key"), devMasterKey: false };
  return { masterKeyFile: join(dataDir, "master.key"), devMasterKey: true };
}

function pkcs11Config(env: Env, cwd: string): Pkcs11Config {
  const why = "when VECTO_KEY_RESOLVER=pkcs11 or VECTO_PKCS11_LIB is set";
  const pinFile =
    env.VECTO_PKCS11_PIN_FILE ??
    (env.CREDENTIALS_DIRECTORY !== undefined ? join(env.CREDENTIALS_DIRECTORY, "pkcs11-pin") : undefined);
  if (pinFile === undefined) throw new ConfigError(`VECTO_PKCS11_PIN_FILE: required ${why}`);
  return {
    library: absolute(required(env, "VECTO_PKCS11_LIB", why), cwd),
    tokenLabel: required(env, "VECTO_PKCS11_TOKEN_LABEL", why),
    pinFile: absolute(pinFile, cwd),
    keyLabel: required(env, "VECTO_PKCS11_KEY_LABEL", why),
  };
}

function previousMasterKeys(env: Env, cwd: string, pkcs11: Pkcs11Config | null): PreviousMasterKey[] {
  const raw = env.VECTO_PREVIOUS_MASTER_KEYS;
  if (raw === undefined) return [];
  return raw
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .map((entry): PreviousMasterKey => {
      if (entry.startsWith("file:") && entry.length > 5) return { kind: "env", file: absolute(entry.slice(5), cwd) };
      if (entry.startsWith("pkcs11:") && entry.length > 7) {
        if (pkcs11 === null)
          throw new ConfigError("VECTO_PREVIOUS_MASTER_KEYS: a pkcs11: entry needs the VECTO_PKCS11_* settings");
        return { kind: "pkcs11", keyLabel: entry.slice(7) };
      }
      throw new ConfigError(
        `VECTO_PREVIOUS_MASTER_KEYS: expected file:PATH or pkcs11:KEY_LABEL entries separated by commas (got "${truncate(entry)}")`,
      );
    });
}

const backupScheduleSchema = z
  .string()
  .trim()
  .refine(
    (v) => v === "off" || (/^\S+( \S+){4}$/.test(v) && validCron(v)),
    "expected a cron expression (minute hour day month weekday) or off",
  )
  .transform((v) => (v === "off" ? null : v));

function backupConfig(env: Env, dataDir: string, cwd: string): BackupConfig {
  return {
    dir: absolute(env.VECTO_BACKUP_DIR ?? join(dataDir, "backups"), cwd),
    schedule: parse(env, "VECTO_BACKUP_SCHEDULE", backupScheduleSchema, "0 3 * * *"),
    keep: parse(env, "VECTO_BACKUP_KEEP", positiveIntSchema, "7"),
  };
}

/** Outside the database, ideally on another mount; never the data directory itself, whose files it would sit among. */
function auditAnchorDir(env: Env, dataDir: string, cwd: string): string {
  const dir = absolute(env.VECTO_AUDIT_ANCHOR_DIR ?? join(dataDir, "audit-anchors"), cwd);
  if (resolve(dir) === resolve(dataDir))
    throw new ConfigError(
      "VECTO_AUDIT_ANCHOR_DIR: must be a directory of its own, not the data directory (default: <data>/audit-anchors)",
    );
  return dir;
}

function egressAllowList(env: Env): string[] {
  const raw = env.VECTO_EGRESS_ALLOW;
  if (raw === undefined) return [];
  const entries = raw
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  for (const entry of entries) {
    if (!/^[A-Za-z0-9.-]+:\d{1,5}$/.test(entry))
      throw new ConfigError(
        `VECTO_EGRESS_ALLOW: expected host:port entries separated by commas (got "${truncate(entry)}")`,
      );
  }
  return entries;
}

function trustedProxies(env: Env): Cidr[] {
  const entries = (env.VECTO_TRUSTED_PROXIES ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  return entries.map((entry) => {
    const cidr = parseCidr(entry);
    if (cidr === undefined)
      throw new ConfigError(
        `VECTO_TRUSTED_PROXIES: expected IPv4 or IPv6 addresses or CIDR ranges separated by commas (got "${truncate(entry)}")`,
      );
    return cidr;
  });
}

const perMinuteSchema = z.union([z.literal("off").transform(() => null), positiveIntSchema], {
  message: "expected requests per minute (a whole number above 0) or off",
});

/** libuv's pool size when UV_THREADPOOL_SIZE is not set, and the most it accepts (deps/uv/src/threadpool.c). */
const LIBUV_DEFAULT_POOL_SIZE = 4;
const LIBUV_MAX_POOL_SIZE = 1024;

/**
 * The size libuv gives its thread pool, read from UV_THREADPOOL_SIZE the way libuv reads it (atoi;
 * 0 becomes 1, anything above 1024 becomes 1024). The pool starts on its first use, and then the
 * variable is read once: sizeThreadPool must run before that.
 */
export function threadPoolSize(processEnv: Env = process.env): number {
  const raw = processEnv.UV_THREADPOOL_SIZE;
  if (raw === undefined) return LIBUV_DEFAULT_POOL_SIZE;
  const size = Number.parseInt(raw.trim(), 10);
  if (Number.isNaN(size) || size === 0) return 1;
  return size < 0 ? LIBUV_MAX_POOL_SIZE : Math.min(size, LIBUV_MAX_POOL_SIZE);
}

/**
 * Sizes libuv's thread pool for the appliance unless the operator set UV_THREADPOOL_SIZE: one
 * thread per core plus one, at least libuv's 4, so that argon2 (at most cores - 1 threads, below)
 * leaves threads for file I/O and DNS. Runs first thing in src/main.ts (src/thread-pool.ts).
 */
export function sizeThreadPool(processEnv: Record<string, string | undefined> = process.env): number {
  processEnv.UV_THREADPOOL_SIZE ??= String(Math.max(LIBUV_DEFAULT_POOL_SIZE, availableParallelism() + 1));
  return threadPoolSize(processEnv);
}

/**
 * At most one hash per core but one, so the event loop keeps a core while argon2 runs flat out
 * (more hashes than cores add no throughput), and at most the pool size minus one.
 */
function argon2Concurrency(env: Env, poolSize: number): number {
  if (poolSize < 2)
    throw new ConfigError(`UV_THREADPOOL_SIZE: must be at least 2, one thread beyond argon2's (got ${poolSize})`);
  const fallback = Math.max(1, Math.min(poolSize - 1, availableParallelism() - 1));
  return parse(
    env,
    "VECTO_ARGON2_CONCURRENCY",
    positiveIntSchema.refine(
      (n) => n < poolSize,
      `must be below the thread pool size, ${poolSize} (UV_THREADPOOL_SIZE)`,
    ),
    String(fallback),
  );
}

/** Builds the validated config. Throws ConfigError with one line naming the variable. */
export function loadConfig(processEnv: Env = process.env, cwd: string = process.cwd()): Config {
  const env = collectEnv(processEnv);
  const dataDir = absolute(env.VECTO_DATA_DIR ?? env.STATE_DIRECTORY ?? "./data", cwd);
  const keyResolver = parse(
    env,
    "VECTO_KEY_RESOLVER",
    z.enum(["env", "pkcs11"], { message: "expected env or pkcs11" }),
    "env",
  );
  const master = masterKeyConfig(env, dataDir, cwd);
  const pkcs11 = keyResolver === "pkcs11" || env.VECTO_PKCS11_LIB !== undefined ? pkcs11Config(env, cwd) : null;
  return {
    dataDir,
    databaseFile: join(dataDir, "vecto.db"),
    cacheDir: absolute(env.CACHE_DIRECTORY ?? env.VECTO_CACHE_DIR ?? join(dataDir, "cache"), cwd),
    listen: parse(env, "VECTO_LISTEN", listenSchema, "127.0.0.1:8443"),
    redirectListen: parse(env, "VECTO_HTTP_LISTEN", listenSchema) ?? null,
    tls: tlsConfig(env, dataDir, cwd),
    keyResolver,
    masterKeyFile: master.masterKeyFile,
    devMasterKey: keyResolver === "env" && master.devMasterKey,
    pkcs11,
    previousMasterKeys: previousMasterKeys(env, cwd, pkcs11),
    dekMaxEncryptions: parse(
      env,
      "VECTO_DEK_MAX_ENCRYPTIONS",
      positiveIntSchema.refine((n) => n <= 2 ** 31, "must be at most 2147483648 (2^31)"),
      String(2 ** 30),
    ),
    airgapped: parse(env, "VECTO_AIRGAPPED", booleanSchema, "true"),
    ollamaUrl: parse(env, "VECTO_OLLAMA_URL", urlSchema, "http://127.0.0.1:11434"),
    egressAllow: egressAllowList(env),
    logLevel: parse(
      env,
      "VECTO_LOG_LEVEL",
      z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"], {
        message: "expected one of fatal, error, warn, info, debug, trace, silent",
      }),
      "info",
    ),
    bodyLimitBytes: parse(env, "VECTO_BODY_LIMIT_BYTES", positiveIntSchema, String(1024 * 1024)),
    setupTokenTtlSeconds: parse(env, "VECTO_SETUP_TOKEN_TTL_SECONDS", positiveIntSchema, String(30 * 60)),
    rootRecovery:
      parse(
        env,
        "VECTO_ROOT_RECOVERY",
        z.enum(["enabled", "disabled"], { message: "expected enabled or disabled" }),
        "enabled",
      ) === "enabled",
    backup: backupConfig(env, dataDir, cwd),
    auditAnchorDir: auditAnchorDir(env, dataDir, cwd),
    trustedProxies: trustedProxies(env),
    rateLimit: {
      perCredential: parse(
        env,
        "VECTO_RATE_LIMIT_PER_CREDENTIAL",
        perMinuteSchema,
        String(DEFAULT_RATE_LIMIT.perCredential),
      ),
      perAddress: parse(env, "VECTO_RATE_LIMIT_PER_ADDRESS", perMinuteSchema, String(DEFAULT_RATE_LIMIT.perAddress)),
    },
    argon2Concurrency: argon2Concurrency(env, threadPoolSize(processEnv)),
    durability: parse(
      env,
      "VECTO_SQLITE_SYNCHRONOUS",
      z.enum(["full", "normal"], { message: "expected full or normal" }),
      "full",
    ),
    aiTimeoutSeconds: parse(
      env,
      "VECTO_AI_TIMEOUT_SECONDS",
      positiveIntSchema.refine((n) => n <= 3600, "must be at most 3600"),
      "120",
    ),
    aiPayloadRetentionDays: parse(
      env,
      "VECTO_AI_PAYLOAD_RETENTION_DAYS",
      z
        .string()
        .regex(/^\d+$/, "expected a whole number of days (0 keeps no payload)")
        .transform(Number)
        .refine((n) => n <= 3650, "must be at most 3650"),
      "30",
    ),
  };
}
