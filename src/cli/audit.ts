/**
 * `vecto audit export`: an audit log, streamed to stdout or a file, for the operator on the box.
 * The export is unredacted: whoever runs this holds the database and the master key, and so the
 * payloads anyway. It is itself recorded (audit.exported, in the installation log): to stdout just
 * before its first byte leaves, to a file once the file is complete. A failed export to a file
 * leaves no file and no record.
 */
import { randomBytes } from "node:crypto";
import {
  existsSync,
  openSync,
  createReadStream,
  createWriteStream,
  readFileSync,
  rmSync,
  renameSync,
  statSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Command } from "commander";
import { verifyBundle, writeBundle, writeSlice } from "../audit/bundle.js";
import { logKeys, logName, makeCheckpoints } from "../audit/checkpoints.js";
import { anchorLines } from "../audit/anchor.js";
import { verifyLog, type TrustedNote, type VerifyReport } from "../audit/verify.js";
import { actorNames } from "../auth/actor-names.js";
import { auditFilterSchema, exportForOperator, recordOperatorExport, type AuditFilterInput } from "../audit/export.js";
import { PLATFORM_LOG, type Database } from "../db/db.js";
import { withServices } from "./context.js";
import { action, CliError, printJson, printLine } from "./output.js";
import { findTenant } from "./tenant.js";

interface ExportOptions {
  readonly log: string;
  readonly from?: string;
  readonly to?: string;
  readonly actor?: string;
  readonly event?: string;
  readonly format?: string;
  readonly out?: string;
  readonly bundle?: boolean;
  readonly slice?: string;
}

/** The options through the same schema as the API's query, so both accept and refuse alike. */
function parseFilter(options: ExportOptions): AuditFilterInput {
  const { from, to, actor, event, format } = options;
  const parsed = auditFilterSchema.safeParse(
    Object.fromEntries(Object.entries({ from, to, actor, event, format }).filter(([, v]) => v !== undefined)),
  );
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new CliError(`invalid --${String(issue?.path[0] ?? "option")}: ${issue?.message ?? "invalid"}`);
}

/**
 * "platform" is the installation log; otherwise a tenant id or slug, or the id of an erased tenant whose log remains.
 */
function resolveLog(db: Database, name: string): string {
  if (name === "platform") return PLATFORM_LOG;
  const tenant = findTenant(db, name);
  if (tenant) return tenant.id;
  if (db.auditLog.size(name) > 0) return name;
  throw new CliError(`no audit log "${name}": expected "platform", a tenant id or a tenant slug`);
}

/** Runs `first` once, just before the first chunk passes. */
async function* beforeFirst(chunks: AsyncIterable<string>, first: () => void): AsyncGenerator<string> {
  for await (const chunk of chunks) {
    first();
    yield chunk;
  }
}

/**
 * Streams an export to stdout or to `out`, calling `record` once: for stdout before the first byte
 * (bytes leave as they are made, so an export the reader stops early is still recorded); for a file
 * once it is complete. The file is written as a private (0600) temporary file beside `out` and
 * renamed over it, so a failure leaves neither an empty nor a partial file, and no record.
 */
async function writeExport(chunks: AsyncIterable<string>, out: string | undefined, record: () => void): Promise<void> {
  let recorded = false;
  const recordOnce = (): void => {
    if (!recorded) record();
    recorded = true;
  };
  // stdout, or a device or pipe named by --out (nothing to rename there).
  if (out === undefined || (existsSync(out) && !statSync(out).isFile())) {
    await pipeline(
      Readable.from(beforeFirst(chunks, recordOnce)),
      out === undefined ? process.stdout : createWriteStream(out),
    );
    return recordOnce();
  }
  const temp = join(dirname(out), `.${basename(out)}.${randomBytes(6).toString("hex")}.partial`);
  const fd = openSync(temp, "wx", 0o600);
  try {
    await pipeline(Readable.from(chunks), createWriteStream("", { fd }));
    // Recorded before the file appears under its name: an export may fail unrecorded-and-absent, never
    // present-and-unrecorded.
    recordOnce();
    renameSync(temp, out);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}

async function runExport(options: ExportOptions): Promise<void> {
  const query = parseFilter(options);
  await withServices(async (services) => {
    const { db, crypto } = services;
    const log = resolveLog(db, options.log);
    const { chunks, record } = exportForOperator(
      { db, events: services.identity.events, names: actorNames({ db, crypto }) },
      log,
      query,
      options.out,
    );
    await writeExport(chunks, options.out, record);
  });
}

/** Each line of a bundle with its newline, for a byte stream. */
async function* withNewlines(lines: AsyncIterable<string>): AsyncGenerator<string> {
  for await (const line of lines) yield `${line}\n`;
}

/**
 * `--slice FIRST-LAST`, both included (as an operator reads seq numbers), to the half-open [from, to) of the slice
 * format.
 */
function sliceRange(text: string): { from: number; to: number } {
  const match = /^(0|[1-9][0-9]{0,14})-(0|[1-9][0-9]{0,14})$/.exec(text);
  const from = Number(match?.[1]);
  const last = Number(match?.[2]);
  if (!match || last < from)
    throw new CliError(
      `invalid --slice: expected FIRST-LAST event seq numbers, both included, e.g. 100-199 (got "${text}")`,
    );
  return { from, to: last + 1 };
}

/** `export --bundle`: the whole log up to its newest signed checkpoint, for offline verification. */
async function runBundleExport(options: ExportOptions, command: Command): Promise<void> {
  // A filtered bundle could not be checked against the signed roots, so filters are refused, not ignored.
  const given = ["from", "to", "actor", "event", "format"].filter(
    (name) => command.getOptionValueSource(name) === "cli",
  );
  if (given.length > 0)
    throw new CliError(
      `--bundle takes the whole log up to its newest signed checkpoint; it cannot be combined with ` +
        `${given.map((n) => `--${n}`).join(", ")}`,
    );
  const range = options.slice === undefined ? undefined : sliceRange(options.slice);
  await withServices(async (services) => {
    const { db, crypto, auditAnchor } = services;
    const log = resolveLog(db, options.log);
    const record = {
      log,
      format: range ? "slice" : "bundle",
      redacted: false,
      out: options.out ?? "stdout",
      ...(range ? { slice: options.slice ?? "" } : {}),
    } as const;
    const lines = range
      ? writeSlice(db, crypto, auditAnchor, log, range.from, range.to)
      : writeBundle(db, crypto, auditAnchor, log);
    try {
      await writeExport(withNewlines(lines), options.out, () => recordOperatorExport(services.identity.events, record));
    } catch (error) {
      if (range && error instanceof RangeError) throw new CliError(`--slice ${options.slice ?? ""}: ${error.message}`);
      throw error;
    }
  });
}

async function exportAction(options: ExportOptions, command: Command): Promise<void> {
  if (options.slice !== undefined && !options.bundle) throw new CliError("--slice needs --bundle");
  return options.bundle ? runBundleExport(options, command) : runExport(options);
}

interface VerifyOptions {
  readonly log?: string;
  readonly json?: boolean;
  readonly file?: string;
  readonly key?: string;
  readonly printKey?: boolean;
  readonly trustedCheckpoint?: string;
}

/**
 * `verify --file`: offline, with only the file and the key the auditor was given. Deliberately
 * loads no config and opens nothing else, so it runs anywhere, even without an installation.
 */
async function runVerifyFile(file: string, key: string, json: boolean): Promise<void> {
  if (!existsSync(file) || !statSync(file).isFile()) throw new CliError(`no file ${file}`);
  const lines = createInterface({ input: createReadStream(file, { encoding: "utf8" }), crlfDelay: Infinity });
  const report = await verifyBundle(lines, key);
  if (json) printJson(report);
  else if (report.ok)
    printLine(
      `ok    ${report.log ?? "?"}: ${report.events} ` +
        `events${report.slice ? ` (${report.slice.from}-${report.slice.to - 1})` : ""}, ` +
        `${report.checkpoints} signed checkpoints, verified offline`,
    );
  const bad = report.firstBad;
  if (bad)
    throw new CliError(
      `audit bundle failed verification${bad.seq === undefined ? "" : ` at event ${bad.seq}`}: ${bad.reason}`,
    );
}

/** `verify --print-key`: the public key to hand an auditor (out of band) for `verify --file`. */
async function runPrintKey(options: VerifyOptions): Promise<void> {
  const keys = await withServices(async ({ db, crypto }) => {
    const logs = options.log === undefined ? db.auditLog.logIds() : [resolveLog(db, options.log)];
    const out: { log: string; origin: string; verifierKey: string }[] = [];
    for (const log of logs) out.push({ log: logName(log), ...(await logKeys(db, crypto, log)) });
    return out;
  });
  if (options.json) printJson({ keys });
  else if (options.log !== undefined) printLine(keys[0]?.verifierKey);
  else for (const k of keys) printLine(`${k.log} ${k.verifierKey}`);
}

/** Which verification was asked for; the offline and key-printing options do not mix with others. */
async function runVerifyCommand(options: VerifyOptions): Promise<void> {
  if (options.file !== undefined) {
    if (options.key === undefined)
      throw new CliError(
        "--file needs --key '<verifier key>', obtained from the installation's operator (vecto audit " +
          "verify --print-key)",
      );
    if (options.log !== undefined || options.printKey)
      throw new CliError("--file verifies the one log in the file; it takes no --log or --print-key");
    return runVerifyFile(options.file, options.key, options.json === true);
  }
  if (options.key !== undefined) throw new CliError("--key is for verifying a bundle: add --file FILE");
  if (options.trustedCheckpoint !== undefined && options.printKey)
    throw new CliError("--trusted-checkpoint is for verifying the installation's logs; it takes no --print-key");
  return options.printKey ? runPrintKey(options) : runVerify(options);
}

/**
 * `--trusted-checkpoint FILE`: an auditor's saved copy, either the signed note itself (the `note`
 * of GET /api/audit/checkpoints or of `vecto audit checkpoint --json`) or JSON Lines each with a
 * `note` (a copy of an anchor file). It applies to the log its origin names.
 */
function readTrusted(file: string | undefined): TrustedNote[] {
  if (file === undefined) return [];
  if (!existsSync(file) || !statSync(file).isFile()) throw new CliError(`no file ${file}`);
  const text = readFileSync(file, "utf8");
  if (!text.startsWith("{")) return [{ at: file, note: text }];
  const lines = anchorLines(text, file);
  const bad = lines.find((line) => line.note === null);
  if (bad) throw new CliError(`--trusted-checkpoint: ${bad.at} is not a JSON line with a "note"`);
  return lines.map((line) => ({ at: line.at, note: line.note ?? "" }));
}

function trustedLogs(db: Database, trusted: readonly TrustedNote[], origins: ReadonlyMap<string, string>): void {
  for (const t of trusted) {
    const origin = t.note.split("\n", 1)[0] ?? "";
    if (!origins.has(origin))
      throw new CliError(
        `--trusted-checkpoint: ${t.at} is for "${origin}", not a log of this installation ` +
          `(${db.installationId()})${origins.size === 1 ? " or of --log" : ""}`,
      );
  }
}

async function runVerify(options: VerifyOptions): Promise<void> {
  const trusted = readTrusted(options.trustedCheckpoint);
  const reports = await withServices(async ({ db, crypto, auditAnchor }) => {
    const logs = options.log === undefined ? db.auditLog.logIds() : [resolveLog(db, options.log)];
    const keys = new Map<string, string>();
    for (const log of logs) keys.set((await logKeys(db, crypto, log)).origin, log);
    trustedLogs(db, trusted, keys);
    const out: VerifyReport[] = [];
    for (const log of logs) out.push(await verifyLog(db, crypto, auditAnchor, log, trusted));
    return out;
  });
  const bad = reports.filter((r) => !r.ok);
  if (options.json) printJson({ ok: bad.length === 0, logs: reports });
  else
    for (const r of reports)
      printLine(
        r.ok
          ? `ok    ${r.log}: ${r.events} events, ${r.checkpoints} signed ` +
              `checkpoints${r.anchor ? `, anchored at size ${r.anchor.size}` : ""}`
          : `FAIL  ${r.log}: event ${r.firstBad?.seq}: ${r.firstBad?.reason}`,
      );
  if (bad.length > 0) throw new CliError(`${bad.length} of ${reports.length} audit logs failed verification`);
}

async function runCheckpoint(options: { json?: boolean }): Promise<void> {
  const made = await withServices(({ db, crypto, auditAnchor }) => makeCheckpoints(db, crypto, auditAnchor));
  if (options.json) printJson({ checkpoints: made.map((m) => ({ log: m.tenantId, size: m.size, note: m.note })) });
  else printLine(made.length === 0 ? "no log grew since its last checkpoint" : `signed ${made.length} checkpoint(s)`);
}

export function auditCommand(program: Command): void {
  const audit = program.command("audit").description("the audit trail");
  audit
    .command("export")
    .description(
      "stream an audit log as JSON Lines or CSV, oldest first. UNREDACTED: security payloads are " +
        "included, since whoever runs this on the box holds the data and keys anyway; " +
        "the export is recorded as audit.exported in the installation log. Holds the events present when it started.",
    )
    .option("--log <log>", 'whose log: "platform" (the installation log), a tenant id or a tenant slug', "platform")
    .option("--from <datetime>", "only events at or after this ISO 8601 time (with Z or an offset)")
    .option("--to <datetime>", "only events before this ISO 8601 time")
    .option("--actor <id>", "only events by this actor id")
    .option("--event <name>", "only events of this name (category.action)")
    .option(
      "--format <format>",
      "jsonl or csv (a CSV cell starting with = + - @ TAB CR or ' gets a leading ' against formula " +
        "injection; drop it to recover the value)",
      "jsonl",
    )
    .option("--out <file>", "write to this file (created 0600) instead of stdout")
    .option(
      "--bundle",
      "write an audit bundle instead: the whole log up to its newest signed checkpoint with the signed " +
        "checkpoints, checkable offline by vecto audit verify --file (run vecto audit checkpoint first to " +
        "include the newest events)",
    )
    .option(
      "--slice <first-last>",
      "with --bundle: only events FIRST to LAST, both included (seq numbers, e.g. 100-199), each with an " +
        "inclusion proof against the newest signed checkpoint, e.g. for a SIEM",
    )
    .action(action((options: ExportOptions, command: Command) => exportAction(options, command)));
  audit
    .command("verify")
    .description(
      "recompute every HMAC, leaf hash and signed checkpoint of the audit logs and check them against " +
        "the highest anchor in VECTO_AUDIT_ANCHOR_DIR; names the first bad event, a truncation or a " +
        "rollback; exit 1 on any",
    )
    .option("--log <log>", 'one log: "platform", a tenant id or slug (default: every log)')
    .option("--json", "print the reports as JSON")
    .option(
      "--file <file>",
      "verify an audit bundle (vecto audit export --bundle) offline instead: needs only the file and " +
        "--key, no installation",
    )
    .option(
      "--key <verifierKey>",
      "with --file: the log's verifier key, obtained out of band (never trust the one inside the bundle)",
    )
    .option("--print-key", "print the verifier key of each log (or of --log) to hand to an auditor")
    .option(
      "--trusted-checkpoint <file>",
      "also check the log against an auditor's saved signed checkpoint: the note as GET " +
        "/api/audit/checkpoints or audit checkpoint --json gives it, or JSON Lines with a note each (a " +
        "copy of an anchor file)",
    )
    .action(action(runVerifyCommand));
  audit
    .command("checkpoint")
    .description(
      "sign a checkpoint now for every audit log that grew since its last one, and append it to the " +
        "anchor file (--json includes the signed note an auditor can keep)",
    )
    .option("--json", "print as JSON")
    .action(action(runCheckpoint));
}
