/**
 * The support bundle (`vecto support-bundle`): a redacted diagnostics archive an operator sends
 * to vendor support. It is assembled from facts chosen to carry no tenant content, opened
 * read-only (the database and keystore are never migrated or written, so it is safe next to a
 * running server), and each part that cannot be collected says why instead of failing the whole.
 * What is in it and what is deliberately not: MANIFEST_EXCLUDED below, written into MANIFEST.txt.
 */
import { createWriteStream, existsSync, statSync, unlinkSync } from "node:fs";
import { basename } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { pack } from "tar-stream";
import { listBackupFiles } from "../backup/retention.js";
import type { Config } from "../config.js";
import { CryptoService, type KeyResolver } from "../crypto/index.js";
import { Database } from "../db/db.js";
import { keystoreMigrations, migrations } from "../db/migrations/index.js";
import { keyStatus } from "../key-admin/status.js";
import { inSea } from "../native/loader.js";
import { VERSION } from "../version.js";
import type { CollectedLogs } from "./logs.js";
import { redactConfig, sanitizeLogLine, Scrubber, secretPaths } from "./redact.js";

export interface CheckLine {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface SupportBundleInput {
  /** null when the configuration does not load; configError then says why. */
  readonly config: Config | null;
  readonly configError?: string;
  /** The results of `vecto doctor`'s checks, or why they could not run. */
  readonly checks: readonly CheckLine[] | { readonly error: string };
  readonly logs: CollectedLogs;
  readonly since: Date;
  readonly now: Date;
  /** Loads the configured master keys (src/services.ts openKeyResolver, handed in by the CLI) for the key status. */
  readonly openKeyResolver: (config: Config) => Promise<KeyResolver>;
}

export interface SupportFile {
  readonly name: string;
  readonly content: string;
}

export interface SupportBundle {
  readonly files: readonly SupportFile[];
  /** Parts that could not be collected fully, with the reason (also in MANIFEST.txt). */
  readonly problems: readonly string[];
}

const DESCRIPTIONS: Readonly<Record<string, string>> = {
  "version.json":
    "vecto, node and platform; database and keystore schema versions (found and expected); installation id",
  "config.json":
    "the effective configuration; paths of secret files replaced (master key, TLS key, PKCS#11 PIN, " +
    "previous master keys)",
  "doctor.txt": "the checks `vecto doctor` runs, with their results",
  "keys-status.json":
    "key resolver, master-key labels and versions, each tenant's data-key versions and counts (never key material)",
  "audit.json":
    "per audit log (tenant id or _platform): number of events and the latest signed checkpoint (size, " +
    "root hash, time); no events",
  "installation.json":
    "tenants by id, kind, status and creation time; backup files in the backup directory (full backups " +
    "by name, size and time; tenant backups only counted)",
  "logs.txt": "recent log lines of the appliance, each reduced to known fields (see its header)",
};

const MANIFEST_EXCLUDED = [
  "tenant content: projects, nodes, edges (titles, bodies, names), notifications, tenant secrets",
  "personal data: user e-mail addresses and names; tenant names (sealed with the tenant key, never " +
    "opened for the bundle) and slugs (slugs and e-mail addresses also replaced in free text: " +
    "[tenant], [email])",
  "audit event payloads and actor names (audit logs are summarised by size and checkpoint only)",
  "secrets: the master key, data keys (wrapped or not), the PKCS#11 PIN, the TLS private key, password " +
    "hashes, tokens, the setup token",
  "the paths of secret files (replaced by <master key file>, <tls key file>, <pkcs11 pin file>, ...)",
  "the database, keystore and backup files themselves; the host name, the environment, any other file",
];

/** Opens the data database and keystore read-only; never creates, migrates or writes them. */
function openReadOnly(config: Config): { db: Database } | { error: string } {
  if (!existsSync(config.databaseFile)) return { error: `no database at ${config.databaseFile}` };
  try {
    return { db: Database.open(config.databaseFile, { readonly: true }) };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

function customerTenants(db: Database): ReturnType<Database["tenants"]["list"]> {
  const all: ReturnType<Database["tenants"]["list"]> = [];
  for (let page = db.tenants.list(); page.length > 0; page = db.tenants.list(page.at(-1)?.id)) all.push(...page);
  return all;
}

async function keysSection(
  config: Config,
  db: Database,
  openKeyResolver: SupportBundleInput["openKeyResolver"],
  problems: string[],
): Promise<unknown> {
  let resolver: KeyResolver;
  try {
    resolver = await openKeyResolver(config);
  } catch (error) {
    // Without the master key (e.g. run outside the service, which alone holds the credential) the
    // keystore still tells the versions and counts; only "loaded/current" needs the key.
    problems.push(
      `keys-status.json: master key not available here (${(error as Error).message}); it has the keystore's view only`,
    );
    return {
      resolverError: (error as Error).message,
      masterKeys: db.keystore.masters(),
      dataKeys: db.keystore.summary(),
    };
  }
  return keyStatus(db, new CryptoService(resolver, db.keystore, { maxEncryptionsPerKey: config.dekMaxEncryptions }));
}

function auditSection(db: Database): unknown {
  return {
    logs: db.auditLog.logIds().map((log) => {
      const checkpoint = db.auditLog.latestCheckpoint(log);
      return {
        log,
        events: db.auditLog.size(log),
        latestCheckpoint:
          checkpoint === undefined
            ? null
            : {
                size: checkpoint.size,
                rootHash: Buffer.from(checkpoint.rootHash).toString("hex"),
                createdAt: checkpoint.createdAt,
              },
      };
    }),
  };
}

async function backupsSection(config: Config): Promise<unknown> {
  const files = await listBackupFiles(config.backup.dir);
  // Tenant backups carry the tenant's slug in their name: counted, not listed.
  const full = files.filter((f) => basename(f).startsWith("vecto-full-"));
  return {
    dir: config.backup.dir,
    full: full.slice(-10).map((f) => {
      const st = statSync(f);
      return { file: basename(f), bytes: st.size, modified: st.mtime.toISOString() };
    }),
    fullCount: full.length,
    tenantBackupCount: files.length - full.length,
  };
}

function doctorText(checks: SupportBundleInput["checks"]): string {
  if ("error" in checks) return `the checks could not run: ${checks.error}\n`;
  const failed = checks.filter((c) => !c.ok).length;
  return (
    `${checks.map((c) => `${c.ok ? "ok  " : "FAIL"}  ${c.name}: ${c.detail}`).join("\n")}\n\n${failed} of ` +
    `${checks.length} checks failed\n`
  );
}

function logsText(logs: CollectedLogs, since: Date, scrubber: Scrubber): string {
  const header = [
    `# source: ${scrubber.scrub(logs.source)}`,
    `# since: ${since.toISOString()}`,
    `# lines: ${logs.lines.length}; JSON records keep only known fields (the rest is listed in redactedFields),`,
    "#   API paths keep only the API's words and ids, error messages are left out (they may quote input),",
    "#   stack frames stay, other text lines are replaced by their length",
    ...logs.notes.map((n) => `# note: ${scrubber.scrub(n)}`),
  ];
  return `${[...header, ...logs.lines.map((l) => sanitizeLogLine(l, scrubber)).filter((l) => l !== "")].join("\n")}\n`;
}

/** Collects every part; a part that fails is replaced by its reason, never by a guess. */
export async function collectSupportBundle(input: SupportBundleInput): Promise<SupportBundle> {
  const { config, now, since } = input;
  const problems: string[] = [];
  const files: SupportFile[] = [];
  const opened =
    config === null ? { error: `configuration: ${input.configError ?? "not loaded"}` } : openReadOnly(config);
  const db = "db" in opened ? opened.db : undefined;
  if (db === undefined) problems.push(`database not read: ${"error" in opened ? opened.error : ""}`);
  /** A part that fails (a damaged database, say) becomes its error; the rest is still collected. */
  const attempt = async <T>(part: string, collect: () => T | Promise<T>): Promise<T | { error: string }> => {
    try {
      return await collect();
    } catch (error) {
      problems.push(`${part}: ${(error as Error).message}`);
      return { error: (error as Error).message };
    }
  };

  try {
    const listed = db === undefined ? [] : await attempt("tenants not listed", () => customerTenants(db));
    const tenants = Array.isArray(listed) ? listed : [];
    const scrubber = new Scrubber({
      secretPaths: config === null ? new Map() : secretPaths(config),
      terms: tenants.map((t) => t.slug),
    });
    const add = (name: string, content: string): void => void files.push({ name, content: scrubber.scrub(content) });

    const facts =
      db === undefined
        ? { installationId: null, database: null, keystore: null }
        : await attempt("version.json", () => ({
            installationId: db.installationId(),
            database: db.schemaVersion(),
            keystore: db.keystore.schemaVersion(),
          }));
    const found = "error" in facts ? { installationId: null, database: null, keystore: null } : facts;
    add(
      "version.json",
      json({
        vecto: VERSION,
        node: process.versions.node,
        platform: `${process.platform}-${process.arch}`,
        singleBinary: inSea(),
        generatedAt: now.toISOString(),
        installationId: found.installationId,
        schema: {
          database: { version: found.database, expected: migrations.at(-1)?.version ?? 0 },
          keystore: { version: found.keystore, expected: keystoreMigrations.at(-1)?.version ?? 0 },
        },
      }),
    );
    add(
      "config.json",
      json(config === null ? { error: input.configError ?? "configuration not loaded" } : redactConfig(config)),
    );
    add("doctor.txt", doctorText(input.checks));

    if (config !== null && db !== undefined) {
      add(
        "keys-status.json",
        json(await attempt("keys-status.json", () => keysSection(config, db, input.openKeyResolver, problems))),
      );
      add("audit.json", json(await attempt("audit.json", () => auditSection(db))));
    } else {
      add("keys-status.json", json({ error: "database not read (see MANIFEST.txt)" }));
      add("audit.json", json({ error: "database not read (see MANIFEST.txt)" }));
    }
    const backups =
      config === null
        ? null
        : await attempt("installation.json: backup directory not listed", () => backupsSection(config));
    add(
      "installation.json",
      json({
        tenants: {
          count: tenants.length,
          list: tenants.map((t) => ({ id: t.id, kind: t.kind, status: t.status, createdAt: t.createdAt })),
        },
        backups,
      }),
    );

    if (input.logs.lines.length === 0) problems.push(`logs.txt: ${input.logs.notes.join("; ") || "no log lines"}`);
    add("logs.txt", logsText(input.logs, since, scrubber));
    add("MANIFEST.txt", manifest(files, problems, input));
  } finally {
    db?.close();
  }
  return { files, problems };
}

function manifest(files: readonly SupportFile[], problems: readonly string[], input: SupportBundleInput): string {
  const width = Math.max(...Object.keys(DESCRIPTIONS).map((n) => n.length));
  return [
    "Vecto support bundle",
    `made ${input.now.toISOString()} by vecto ${VERSION}; logs since ${input.since.toISOString()}`,
    "It holds no tenant content and no secret: review it before you send it; every file is plain text.",
    "",
    "Included:",
    ...files.map((f) => `  ${f.name.padEnd(width)}  ${DESCRIPTIONS[f.name] ?? ""}`),
    `  ${"MANIFEST.txt".padEnd(width)}  this file`,
    "",
    "Deliberately excluded:",
    ...MANIFEST_EXCLUDED.map((e) => `  - ${e}`),
    "",
    "Not collected fully:",
    ...(problems.length === 0 ? ["  (nothing: every part was collected)"] : problems.map((p) => `  - ${p}`)),
    "",
  ].join("\n");
}

/**
 * Writes the files into a new gzip'ed tar, mode 0600, under one directory named after the file.
 * Refuses to overwrite; a partly written file is removed.
 */
export async function writeSupportArchive(file: string, files: readonly SupportFile[], now: Date): Promise<number> {
  const top = basename(file).replace(/\.tar\.gz$|\.tgz$/, "") || "vecto-support";
  const out = createWriteStream(file, { flags: "wx", mode: 0o600 });
  const opened = new Promise<void>((resolve, reject) => {
    out.once("open", () => resolve());
    out.once("error", reject);
  });
  try {
    await opened;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(
      code === "EEXIST"
        ? `${file} already exists; choose another --out`
        : `cannot create ${file}: ${code ?? (error as Error).message}`,
    );
  }
  const tar = pack();
  const writing = pipeline(tar, createGzip(), out);
  try {
    tar.entry({ name: `${top}/`, type: "directory", mode: 0o700, mtime: now });
    for (const f of [...files].sort((a, b) =>
      a.name === "MANIFEST.txt" ? -1 : b.name === "MANIFEST.txt" ? 1 : a.name.localeCompare(b.name),
    )) {
      tar.entry({ name: `${top}/${f.name}`, mode: 0o600, mtime: now }, f.content);
    }
    tar.finalize();
    await writing;
  } catch (error) {
    tar.destroy();
    await writing.catch(() => undefined);
    unlinkSync(file);
    throw error;
  }
  return statSync(file).size;
}
