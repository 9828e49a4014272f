/**
 * Exporting an audit log (DESIGN.md "Audit trail", datasheet section 5): JSON Lines or CSV,
 * filtered by time range, actor and event, streamed page by page so memory stays constant for a
 * log of any size. Shared by GET /api/audit and `vecto audit export`.
 *
 * Snapshot: an export holds the rows with seq < the log's size when the export started (the
 * caller passes that size as `endSeq`). Rows are never changed or deleted, so this is a stable
 * cut of the log however long streaming takes; events appended meanwhile (including the
 * `audit.exported` event recording this very export) belong to the next export.
 *
 * Redaction: when the reader lacks the auditor capability (`audit:security`), the payload of a
 * security-sensitive event is replaced by {"redacted": true} and the line gains "redacted": true.
 * vid, seq and signature stay those of the original event, so the signature no longer matches the
 * redacted line; an auditor's unredacted export of the same rows verifies, and the two line up
 * by vid.
 *
 * Actor names: each line adds `actor_name` (CSV: the last column), the actor's name looked up as
 * the export is read (src/auth/actor-names.ts). It is not part of the signed event, whose `actor`
 * object stays {type, id, name: null} exactly as signed: drop `actor_name` (and `redacted`) to get
 * the signed event back.
 */
import { z } from "zod";
import type { AuditFilter, AuditRow } from "../db/repositories/audit-log.js";
import type { Actor } from "../vocabulary/events.js";
import type { EventSink } from "./events.js";
import { signedEvent } from "./seal.js";

export type ActorRef = Pick<AuditRow, "tenantId" | "actorType" | "actorId">;

/** How an export names the actors of its rows; identity provides it (src/auth/actor-names.ts), the audit trail only asks. */
export interface ActorNames {
  /** The display name of a row's actor, as of now. */
  nameOf(row: ActorRef): Promise<string | null>;
}

export const AUDIT_FORMATS = ["jsonl", "csv"] as const;
export type AuditFormat = (typeof AUDIT_FORMATS)[number];

/** Rows per read: large enough to amortise the query, small enough that a page is a few hundred KB. */
export const EXPORT_PAGE_SIZE = 500;

/** The filter fields, validated alike by the API and the CLI. */
export const auditFilterFields = {
  // Stored timestamps are toISOString() (UTC, milliseconds) and compared as text, so any accepted
  // offset or precision is normalised to that form first.
  from: z.iso
    .datetime({ offset: true })
    .transform((s) => new Date(s).toISOString())
    .optional(),
  to: z.iso
    .datetime({ offset: true })
    .transform((s) => new Date(s).toISOString())
    .optional(),
  // A user id (uuid) or a system actor's name ("vecto keys rotate-jwt").
  actor: z
    .string()
    .max(128)
    .regex(/^[A-Za-z0-9][A-Za-z0-9 ._:@-]*$/, "an actor id")
    .optional(),
  event: z
    .string()
    .max(64)
    .regex(/^[a-z][a-z_]*\.[a-z][a-z_]*$/, "an event name, category.action")
    .optional(),
  format: z.enum(AUDIT_FORMATS).default("jsonl"),
} as const;

export const auditFilterSchema = z.strictObject(auditFilterFields);
export type AuditFilterInput = z.output<typeof auditFilterSchema>;

/** What an export reads: a log, its filter and the snapshot bound. */
export interface ExportSpec {
  readonly log: string;
  readonly filter: Omit<AuditFilterInput, "format">;
  /** Rows with seq >= endSeq are not part of this export (see the file comment). */
  readonly endSeq: number;
}

export interface ExportOptions {
  readonly format: AuditFormat;
  /** True when the reader lacks `audit:security`: security payloads are withheld. */
  readonly redactSecurity: boolean;
  /** One resolver per export, so each distinct actor is looked up once. */
  readonly names: ActorNames;
}

export type AuditSource = { filtered(tenantId: string, filter: AuditFilter): AuditRow[] };

/** The export's rows in seq order, one page in memory at a time. */
export function* exportRows(source: AuditSource, spec: ExportSpec, pageSize = EXPORT_PAGE_SIZE): Generator<AuditRow[]> {
  const { from, to, actor, event } = spec.filter;
  let afterSeq = -1;
  for (;;) {
    const page = source.filtered(spec.log, { from, to, actorId: actor, event, afterSeq, limit: pageSize });
    const inSnapshot = page.filter((row) => row.seq < spec.endSeq);
    if (inSnapshot.length > 0) yield inSnapshot;
    if (page.length < pageSize || inSnapshot.length < page.length) return;
    afterSeq = page[page.length - 1]?.seq ?? afterSeq;
  }
}

/** The event as exported: the signed event, or its redacted form (same vid and signature), plus the unsigned actor name. */
export function exportedEvent(
  row: AuditRow,
  redactSecurity: boolean,
  actorName: string | null,
): Record<string, unknown> {
  const event = { ...signedEvent(row), actor_name: actorName };
  if (!redactSecurity || row.sensitivity !== "security") return event;
  return { ...event, payload: { redacted: true }, redacted: true };
}

// actor_name comes last so that the columns before it keep their positions for existing readers.
export const CSV_COLUMNS = [
  "vid",
  "log",
  "seq",
  "timestamp",
  "event",
  "scope",
  "sensitivity",
  "severity",
  "actor_type",
  "actor_id",
  "scope_vid",
  "payload",
  "signature",
  "redacted",
  "actor_name",
] as const;

/**
 * Cells a spreadsheet would run as a formula (OWASP "CSV injection"; tab and CR too, as OWASP
 * advises), and the apostrophe itself, so that the escape can be undone without ambiguity.
 */
const NEEDS_APOSTROPHE = /^[=+\-@\t\r']/;

/**
 * One CSV cell (RFC 4180): quoted when it holds a quote, comma or line break, quotes doubled.
 * A cell starting with = + - @ (or tab, CR) gets a leading apostrophe first, so a spreadsheet
 * shows it as text instead of evaluating it. This does happen: a base64 signature starts with "+"
 * one time in 64. To keep every value recoverable, a cell starting with an apostrophe gets one
 * too; so a consumer (a SIEM, a verifier) restores the value by dropping one leading apostrophe
 * when there is one, in any column.
 */
export function csvCell(value: string | number | boolean | null): string {
  const raw = value === null ? "" : String(value);
  const text = NEEDS_APOSTROPHE.test(raw) ? `'${raw}` : raw;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function csvRow(cells: readonly (string | number | boolean | null)[]): string {
  return `${cells.map(csvCell).join(",")}\r\n`;
}

function csvLine(event: Record<string, unknown>): string {
  const actor = event.actor as { type: string; id: string | null };
  const cell = (key: string): string | number | null => (event[key] ?? null) as string | number | null;
  return csvRow([
    cell("vid"),
    cell("log"),
    cell("seq"),
    cell("timestamp"),
    cell("event"),
    cell("scope"),
    cell("sensitivity"),
    cell("severity"),
    actor.type,
    actor.id,
    cell("scope_vid"),
    JSON.stringify(event.payload),
    cell("signature"),
    event.redacted === true ? "true" : "",
    cell("actor_name"),
  ]);
}

async function renderPage(page: readonly AuditRow[], options: ExportOptions): Promise<string> {
  // One wait per page: the resolver hands back the same promise for an actor it has seen.
  const names = await Promise.all(page.map((row) => options.names.nameOf(row)));
  const events = page.map((row, i) => exportedEvent(row, options.redactSecurity, names[i] ?? null));
  return options.format === "jsonl"
    ? events.map((e) => `${JSON.stringify(e)}\n`).join("")
    : events.map(csvLine).join("");
}

/** The export as text chunks, one per page (CSV starts with its header row); pull-driven, so the reader's pace sets memory. */
export async function* exportChunks(
  source: AuditSource,
  spec: ExportSpec,
  options: ExportOptions,
): AsyncGenerator<string> {
  if (options.format === "csv") yield csvRow(CSV_COLUMNS);
  for (const page of exportRows(source, spec)) yield await renderPage(page, options);
}

/** A web stream over the chunks, read only as fast as the client takes them (no buffering ahead). */
export function exportStream(chunks: AsyncIterator<string>): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await chunks.next();
      if (next.done === true) controller.close();
      else controller.enqueue(encoder.encode(next.value));
    },
    async cancel() {
      await chunks.return?.(undefined);
    },
  });
}

/** What an export asked for, as its `audit.exported` event records it: never what was returned. */
export interface ExportRecord {
  readonly log: string;
  /** jsonl or csv; "bundle" or "slice" for `vecto audit export --bundle`. */
  readonly format: AuditFormat | "bundle" | "slice";
  readonly filter?: ExportSpec["filter"];
  readonly redacted: boolean;
  /** Where a CLI export went: a file name, or "stdout". */
  readonly out?: string;
  /** `--slice FIRST-LAST` as given. */
  readonly slice?: string;
}

/** The one place an export is recorded (audit.exported), for the API and the CLI alike. */
export function recordAuditExport(
  events: EventSink,
  who: { readonly tenantId: string | null; readonly actor: Actor },
  record: ExportRecord,
): void {
  const { log, format, redacted, filter, out, slice } = record;
  const fields = { log, format, redacted, ...filter, out, slice };
  const payload = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as Record<
    string,
    string | boolean
  >;
  events.emit({
    event: "audit.exported",
    sensitivity: "security",
    severity: "info",
    tenantId: who.tenantId,
    actor: who.actor,
    payload,
  });
}

/**
 * `vecto audit export` (not --bundle): the operator's unredacted export, and the record to make of
 * it (the installation log, actor "vecto audit export") when the caller has delivered it.
 */
export function exportForOperator(
  deps: {
    readonly db: { readonly auditLog: AuditSource & { size(log: string): number } };
    readonly events: EventSink;
    readonly names: ActorNames;
  },
  log: string,
  query: AuditFilterInput,
  out: string | undefined,
): { chunks: AsyncGenerator<string>; record: () => void } {
  const { format, ...filter } = query;
  // Size first: the export ends just before the event that records it (when that lands in the same log).
  const spec: ExportSpec = { log, filter, endSeq: deps.db.auditLog.size(log) };
  const chunks = exportChunks(deps.db.auditLog, spec, { format, redactSecurity: false, names: deps.names });
  return {
    chunks,
    record: () => recordOperatorExport(deps.events, { log, format, filter, redacted: false, out: out ?? "stdout" }),
  };
}

/** The operator's exports (plain, --bundle, --slice) are recorded in the installation log under this system actor. */
export function recordOperatorExport(events: EventSink, record: ExportRecord): void {
  recordAuditExport(events, { tenantId: null, actor: { type: "system", id: "vecto audit export" } }, record);
}

export function exportFileName(label: string, format: AuditFormat, now: Date): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  return `vecto-audit-${label.replace(/[^A-Za-z0-9_-]/g, "_")}-${stamp}.${format}`;
}
