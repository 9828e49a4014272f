/**
 * What keeps customer data and secrets out of a support bundle (docs/operator-guide.md, "Support
 * bundle"). The rule is allow-listing: each section is built from facts chosen to carry no tenant
 * content; this module adds the safety nets for text whose origin is wider (log lines, error
 * messages): secret file paths become role names, e-mail addresses and known tenant names and
 * slugs are replaced, and log records keep only known fields.
 */
import type { Config } from "../config.js";

export const REDACTED = "[redacted]";

/**
 * Path segments of the HTTP API that are not data: everything else in a logged path is replaced.
 * test/unit/support-redact.test.ts fails when a route uses a word missing here.
 */
export const ROUTE_WORDS: ReadonlySet<string> = new Set([
  "admin",
  "admins",
  "agents",
  "ai",
  "api",
  "approval",
  "approve",
  "audit",
  "auth",
  "autonomy",
  "calls",
  "checkpoints",
  "comments",
  "consistency",
  "decision-draft",
  "discard",
  "draft",
  "edges",
  "erase",
  "export",
  "healthz",
  "inclusion",
  "keys",
  "license",
  "links",
  "login",
  "logout",
  "mcp",
  "me",
  "members",
  "metrics",
  "models",
  "nodes",
  "notifications",
  "openapi.json",
  "password",
  "password-reset",
  "projects",
  "proofs",
  "providers",
  "read",
  "readyz",
  "refresh",
  "release",
  "report",
  "restore",
  "revisions",
  "rotate",
  "secrets",
  "sessions",
  "settings",
  "setup",
  "signing-keys",
  "signoff",
  "status",
  "summarize",
  "tenant",
  "tenants",
  "tokens",
  "trace",
  "usage",
  "users",
  "verify",
]);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g;
/** Shorter names would match ordinary words; a 1-2 character slug identifies nobody. */
const MIN_TERM_LENGTH = 3;
const MAX_TEXT = 500;

/** `/api/secrets/openai` -> `/api/secrets/[redacted]`; ids (UUIDs) and the API's own words stay. */
export function sanitizePath(path: string): string {
  const bare = path.split(/[?#]/, 1)[0] ?? "";
  return bare
    .split("/")
    .map((segment) => (segment === "" || UUID.test(segment) || ROUTE_WORDS.has(segment) ? segment : REDACTED))
    .join("/");
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The secret files a config names, each with the role shown in its place. */
export function secretPaths(config: Config): Map<string, string> {
  const paths = new Map<string, string>();
  paths.set(config.masterKeyFile, "<master key file>");
  paths.set(config.tls.keyFile, "<tls key file>");
  if (config.pkcs11 !== null) paths.set(config.pkcs11.pinFile, "<pkcs11 pin file>");
  config.previousMasterKeys.forEach((k, i) => {
    if (k.kind === "env") paths.set(k.file, `<previous master key file ${i + 1}>`);
  });
  return paths;
}

/**
 * Replaces what must not leave the installation in free text: secret paths, e-mail addresses and tenant slugs (tenant
 * names are sealed and never read here).
 */
export class Scrubber {
  readonly #paths: [string, string][];
  readonly #terms: RegExp | null;

  constructor(
    options: { readonly secretPaths?: ReadonlyMap<string, string>; readonly terms?: readonly string[] } = {},
  ) {
    // Longest first, so that no path is half-replaced by a shorter one it contains.
    this.#paths = [...(options.secretPaths ?? new Map<string, string>())]
      .filter(([p]) => p !== "")
      .sort((a, b) => b[0].length - a[0].length);
    const terms = [
      ...new Set((options.terms ?? []).map((t) => t.trim()).filter((t) => t.length >= MIN_TERM_LENGTH)),
    ].sort((a, b) => b.length - a.length);
    this.#terms =
      terms.length === 0
        ? null
        : new RegExp(`(?<![A-Za-z0-9_-])(?:${terms.map(escapeRegExp).join("|")})(?![A-Za-z0-9_-])`, "gi");
  }

  scrub(text: string): string {
    let out = text;
    for (const [path, role] of this.#paths) out = out.split(path).join(role);
    out = out.replace(EMAIL, "[email]");
    if (this.#terms !== null) out = out.replace(this.#terms, "[tenant]");
    return out;
  }

  /** Scrubs every string in a JSON-like value (keys are left as they are: they come from code). */
  scrubValue<T>(value: T): T {
    if (typeof value === "string") return this.scrub(value) as T;
    if (Array.isArray(value)) return value.map((v: unknown) => this.scrubValue(v)) as T;
    if (value !== null && typeof value === "object")
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.scrubValue(v)])) as T;
    return value;
  }
}

function withoutCredentials(url: string): string {
  try {
    const u = new URL(url);
    if (u.username === "" && u.password === "" && u.search === "") return url;
    u.username = "";
    u.password = "";
    u.search = "";
    return `${u.toString()} (credentials and query removed)`;
  } catch {
    return REDACTED;
  }
}

/**
 * The effective configuration without secrets: paths of secret files (master key, TLS key, PKCS#11
 * PIN, previous master keys) are replaced by a role and whether one is configured; labels, addresses
 * and limits stay, since support needs them and they protect nothing.
 */
export function redactConfig(config: Config): Record<string, unknown> {
  const secret = (path: string): string => (path === "" ? "" : `${REDACTED} (path of a secret file)`);
  return {
    dataDir: config.dataDir,
    databaseFile: config.databaseFile,
    cacheDir: config.cacheDir,
    listen: config.listen,
    redirectListen: config.redirectListen,
    tls: {
      certFile: config.tls.certFile,
      keyFile: secret(config.tls.keyFile),
      selfSigned: config.tls.selfSigned,
      clientCaFile: config.tls.clientCaFile,
    },
    keyResolver: config.keyResolver,
    masterKeyFile: config.keyResolver === "env" ? secret(config.masterKeyFile) : null,
    devMasterKey: config.devMasterKey,
    pkcs11:
      config.pkcs11 === null
        ? null
        : {
            library: config.pkcs11.library,
            tokenLabel: config.pkcs11.tokenLabel,
            pinFile: secret(config.pkcs11.pinFile),
            keyLabel: config.pkcs11.keyLabel,
          },
    previousMasterKeys: config.previousMasterKeys.map((k) =>
      k.kind === "env" ? { kind: "env", file: secret(k.file) } : { kind: "pkcs11", keyLabel: k.keyLabel },
    ),
    dekMaxEncryptions: config.dekMaxEncryptions,
    airgapped: config.airgapped,
    ollamaUrl: withoutCredentials(config.ollamaUrl),
    egressAllow: config.egressAllow,
    logLevel: config.logLevel,
    bodyLimitBytes: config.bodyLimitBytes,
    setupTokenTtlSeconds: config.setupTokenTtlSeconds,
    backup: { dir: config.backup.dir, schedule: config.backup.schedule, keep: config.backup.keep },
    trustedProxies: config.trustedProxies.map((c) => `${c.network}/${c.prefix}`),
    rateLimit: config.rateLimit,
  };
}

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/**
 * Top-level fields of the appliance's own log records (src/log.ts callers) that carry no content.
 * Not `file`: the appliance logs the master key file's path under it.
 */
const LOG_FIELDS = new Set([
  "time",
  "level",
  "msg",
  "service",
  "requestId",
  "method",
  "status",
  "ms",
  "job",
  "signal",
  "purpose",
  "host",
  "url",
  "redirect",
  "masterLabel",
  "cert",
  "logsCheckpointed",
]);
const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,40}$/;

function primitive(value: unknown, scrubber: Scrubber): Json | undefined {
  if (typeof value === "string") return truncate(scrubber.scrub(value));
  if (typeof value === "number" || typeof value === "boolean" || value === null) return value;
  return undefined;
}

function truncate(text: string): string {
  return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}...[truncated]` : text;
}

/** A stack trace keeps only its frames ("at fn (file:line:col)"): the message line may quote data. */
function stackFrames(stack: unknown, scrubber: Scrubber): string | undefined {
  if (typeof stack !== "string") return undefined;
  const frames = stack.split("\n").filter((l) => /^\s+at \S/.test(l));
  return frames.length === 0 ? undefined : scrubber.scrub(frames.slice(0, 20).join("\n"));
}

/**
 * An error keeps its name, type and code and its stack frames; its message is left out: messages
 * may quote input (a JSON parse error quotes the text it choked on), so they are not safe to send.
 */
function errorFields(value: unknown, scrubber: Scrubber): Json | undefined {
  if (value === null || typeof value !== "object") return undefined;
  const e = value as Record<string, unknown>;
  const out: Record<string, Json> = {};
  for (const key of ["name", "type", "code"]) {
    const v = primitive(e[key], scrubber);
    if (v !== undefined) out[key] = v;
  }
  if (typeof e.message === "string") out.message = `[omitted: ${e.message.length} characters]`;
  const frames = stackFrames(e.stack, scrubber);
  if (frames !== undefined) out.stack = frames;
  return out;
}

/**
 * One log line for the bundle: a JSON record keeps only known fields (strings scrubbed, paths
 * reduced to the API's words and ids, audit entries to event/tenant id/actor type and id, errors to
 * name/code/stack frames) and lists the names of what it dropped; a stack frame line stays;
 * any other text line is replaced by a note of its length.
 */
export function sanitizeLogLine(line: string, scrubber: Scrubber): string {
  const trimmed = line.trim();
  if (trimmed === "") return "";
  if (trimmed.startsWith("{")) {
    let record: unknown;
    try {
      record = JSON.parse(trimmed);
    } catch {
      record = undefined;
    }
    if (record !== null && typeof record === "object" && !Array.isArray(record))
      return JSON.stringify(sanitizeRecord(record as Record<string, unknown>, scrubber));
  }
  if (/^\s+at \S/.test(line)) return truncate(scrubber.scrub(line));
  if (/^-- [A-Za-z][A-Za-z0-9 :.,+-]{0,80} --$/.test(trimmed)) return trimmed;
  return `[non-JSON line omitted: ${line.length} characters]`;
}

function sanitizeRecord(record: Record<string, unknown>, scrubber: Scrubber): Record<string, Json> {
  const out: Record<string, Json> = {};
  const dropped: string[] = [];
  for (const [key, value] of Object.entries(record)) {
    if (key === "path" && typeof value === "string") out.path = sanitizePath(value);
    else if ((key === "err" || key === "error") && errorFields(value, scrubber) !== undefined)
      out[key] = errorFields(value, scrubber) as Json;
    else if (key === "audit" && value !== null && typeof value === "object")
      out.audit = auditFields(value as Record<string, unknown>, scrubber);
    else if (key === "msg" && typeof value === "string" && isErrorMessage(record, value))
      out.msg = `[error message omitted: ${value.length} characters]`;
    else if (LOG_FIELDS.has(key) && primitive(value, scrubber) !== undefined)
      out[key] = primitive(value, scrubber) as Json;
    else dropped.push(FIELD_NAME.test(key) ? key : "?");
  }
  if (dropped.length > 0) out.redactedFields = [...new Set(dropped)].sort();
  return out;
}

/** pino's `log.error(err)` puts the error's message in msg: treated like the message itself. */
function isErrorMessage(record: Record<string, unknown>, msg: string): boolean {
  return ["err", "error"].some((k) => {
    const e = record[k];
    return e !== null && typeof e === "object" && (e as { message?: unknown }).message === msg;
  });
}

function auditFields(audit: Record<string, unknown>, scrubber: Scrubber): Record<string, Json> {
  const out: Record<string, Json> = {};
  const event = primitive(audit.event, scrubber);
  if (event !== undefined) out.event = event;
  const tenantId = primitive(audit.tenantId, scrubber);
  if (tenantId !== undefined) out.tenantId = tenantId;
  const actor = audit.actor;
  if (actor !== null && typeof actor === "object") {
    const a = actor as Record<string, unknown>;
    out.actor = { type: primitive(a.type, scrubber) ?? null, id: primitive(a.id, scrubber) ?? null };
  }
  return out;
}
