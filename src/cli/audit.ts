/**
 * `vecto audit export`: an audit log, streamed to stdout or a file, for the operator on the box.
 * The export is unredacted: whoever runs this holds the database and the master key, and so the
 * payloads anyway. It is itself recorded (audit.exported, in the installation log).
 */
import { existsSync, fstatSync, fchmodSync, openSync, createWriteStream } from "node:fs";
import { Readable, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Command } from "commander";
import { auditFilterSchema, exportChunks, exportRecord, type AuditFilterInput, type ExportSpec } from "../audit/export.js";
import { PLATFORM_LOG, type Database } from "../db/db.js";
import { createLogger } from "../log.js";
import { openServices } from "../services.js";
import { commandConfig } from "./context.js";
import { action, CliError } from "./output.js";

interface ExportOptions {
  readonly log: string;
  readonly from?: string;
  readonly to?: string;
  readonly actor?: string;
  readonly event?: string;
  readonly format?: string;
  readonly out?: string;
}

const SYSTEM_ACTOR = "vecto audit export";

/** The options through the same schema as the API's query, so both accept and refuse alike. */
function parseFilter(options: ExportOptions): AuditFilterInput {
  const { from, to, actor, event, format } = options;
  const parsed = auditFilterSchema.safeParse(Object.fromEntries(Object.entries({ from, to, actor, event, format }).filter(([, v]) => v !== undefined)));
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new CliError(`invalid --${String(issue?.path[0] ?? "option")}: ${issue?.message ?? "invalid"}`);
}

/** "platform" is the installation log; otherwise a tenant id or slug, or the id of an erased tenant whose log remains. */
function resolveLog(db: Database, name: string): string {
  if (name === "platform") return PLATFORM_LOG;
  const tenant = db.tenants.get(name) ?? db.tenants.getBySlug(name);
  if (tenant) return tenant.id;
  if (db.auditLog.size(name) > 0) return name;
  throw new CliError(`no audit log "${name}": expected "platform", a tenant id or a tenant slug`);
}

/** A file private to the service user (0600, even when it existed before), or stdout. */
function destination(out: string | undefined): Writable {
  if (out === undefined) return process.stdout;
  const fd = openSync(out, "w", 0o600);
  if (fstatSync(fd).isFile()) fchmodSync(fd, 0o600);
  return createWriteStream("", { fd });
}

async function runExport(options: ExportOptions): Promise<void> {
  const { format, ...filter } = parseFilter(options);
  const config = commandConfig();
  if (!existsSync(config.databaseFile)) throw new CliError(`no database at ${config.databaseFile}; run "vecto init" first`);
  const services = await openServices(config, createLogger(config.logLevel, "stderr"));
  try {
    const db = services.db;
    const log = resolveLog(db, options.log);
    // Size first: the export ends just before the event that records it (when that lands in the same log).
    const spec: ExportSpec = { log, filter, endSeq: db.auditLog.size(log) };
    services.identity.events.emit({ event: "audit.exported", sensitivity: "security", severity: "info", tenantId: null, actor: { type: "system", id: SYSTEM_ACTOR }, payload: { ...exportRecord(log, format, filter, false), out: options.out ?? "stdout" } });
    await pipeline(Readable.from(exportChunks(db.auditLog, spec, { format, redactSecurity: false })), destination(options.out));
  } finally {
    services.close();
  }
}

export function auditCommand(program: Command): void {
  const audit = program.command("audit").description("the audit trail");
  audit
    .command("export")
    .description(
      "stream an audit log as JSON Lines or CSV, oldest first. UNREDACTED: security payloads are included, since whoever runs this on the box holds the data and keys anyway; " +
        "the export is recorded as audit.exported in the installation log. Holds the events present when it started.",
    )
    .option("--log <log>", 'whose log: "platform" (the installation log), a tenant id or a tenant slug', "platform")
    .option("--from <datetime>", "only events at or after this ISO 8601 time (with Z or an offset)")
    .option("--to <datetime>", "only events before this ISO 8601 time")
    .option("--actor <id>", "only events by this actor id")
    .option("--event <name>", "only events of this name (category.action)")
    .option("--format <format>", "jsonl or csv (a CSV cell starting with = + - @ TAB CR or ' gets a leading ' against formula injection; drop it to recover the value)", "jsonl")
    .option("--out <file>", "write to this file (created 0600) instead of stdout")
    .action(action(runExport));
}
