/**
 * `vecto audit export`: an audit log, streamed to stdout or a file, for the operator on the box.
 * The export is unredacted: whoever runs this holds the database and the master key, and so the
 * payloads anyway. It is itself recorded (audit.exported, in the installation log).
 */
import { existsSync, fstatSync, fchmodSync, openSync, createWriteStream } from "node:fs";
import { Readable, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Command } from "commander";
import { makeCheckpoints } from "../audit/checkpoints.js";
import { verifyLog, type VerifyReport } from "../audit/verify.js";
import { auditFilterSchema, exportChunks, exportRecord, type AuditFilterInput, type ExportSpec } from "../audit/export.js";
import { PLATFORM_LOG, type Database } from "../db/db.js";
import { createLogger } from "../log.js";
import { openServices } from "../services.js";
import { commandConfig } from "./context.js";
import { action, CliError, printJson, printLine } from "./output.js";

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

/** Opens the installation for a command that needs the keys (verification, signing). */
async function withServices<T>(run: (services: Awaited<ReturnType<typeof openServices>>) => Promise<T>): Promise<T> {
  const config = commandConfig();
  if (!existsSync(config.databaseFile)) throw new CliError(`no database at ${config.databaseFile}; run "vecto init" first`);
  const services = await openServices(config, createLogger(config.logLevel, "stderr"));
  try {
    return await run(services);
  } finally {
    services.close();
  }
}

async function runVerify(options: { log?: string; json?: boolean }): Promise<void> {
  const reports = await withServices(async ({ db, crypto }) => {
    const logs = options.log === undefined ? db.auditLog.logIds() : [resolveLog(db, options.log)];
    const out: VerifyReport[] = [];
    for (const log of logs) out.push(await verifyLog(db, crypto, log));
    return out;
  });
  const bad = reports.filter((r) => !r.ok);
  if (options.json) printJson({ ok: bad.length === 0, logs: reports });
  else for (const r of reports) printLine(r.ok ? `ok    ${r.log}: ${r.events} events, ${r.checkpoints} signed checkpoints` : `FAIL  ${r.log}: event ${r.firstBad?.seq}: ${r.firstBad?.reason}`);
  if (bad.length > 0) throw new CliError(`${bad.length} of ${reports.length} audit logs failed verification`);
}

async function runCheckpoint(options: { json?: boolean }): Promise<void> {
  const made = await withServices(({ db, crypto }) => makeCheckpoints(db, crypto));
  if (options.json) printJson({ checkpoints: made.map((m) => ({ log: m.tenantId, size: m.size })) });
  else printLine(made.length === 0 ? "no log grew since its last checkpoint" : `signed ${made.length} checkpoint(s)`);
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
  audit
    .command("verify")
    .description("recompute every HMAC, leaf hash and signed checkpoint of the audit logs; names the first bad event; exit 1 on any")
    .option("--log <log>", 'one log: "platform", a tenant id or slug (default: every log)')
    .option("--json", "print the reports as JSON")
    .action(action(runVerify));
  audit
    .command("checkpoint")
    .description("sign a checkpoint now for every audit log that grew since its last one")
    .option("--json", "print as JSON")
    .action(action(runCheckpoint));
}
