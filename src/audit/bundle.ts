/**
 * Audit bundles: a whole log handed to an outside auditor, checkable offline with nothing but the
 * log's public verifier key (no database, no HMAC key, no Vecto installation).
 *
 * Format (JSON Lines, `vecto-audit-bundle/1`):
 *   line 1   {"format","log","origin","verifierKey","checkpoints":[signed notes, oldest first]}
 *   line k+2 the signed event of seq k in RFC 8785 canonical JSON: exactly the Merkle leaf input,
 *            so a verifier hashes the line as it stands (SHA-256(0x00 || line)).
 * The bundle ends at the newest signed checkpoint: every event in it is covered by a signature.
 *
 * What offline verification proves: each event line, its position and the log's length up to the
 * newest checkpoint are those the installation signed. An edit that keeps the line canonical and
 * its seq field intact can only be located to the events between two checkpoints, since the
 * checkpoints are the only signatures an outsider can check (the per-event HMAC needs the secret).
 *
 * Slices (`vecto-audit-slice/1`, for handing a range of events to a SIEM): the header carries the
 * newest checkpoint and the range [from, to); each line is {"seq","event","proof"} with an RFC 6962
 * inclusion proof of that event against the checkpoint, so each event is checked on its own and
 * an edited one is named exactly. verifyBundle reads both, telling them apart by the header.
 */
import canonicalizeModule from "canonicalize";
import { z } from "zod";
import type { CryptoService } from "../crypto/index.js";
import type { AuditRow, CheckpointRow } from "../db/repositories/audit-log.js";
import type { Database } from "../db/db.js";
import type { AuditAnchor } from "./anchor.js";
import { parseCheckpoint, verifyCheckpoint, type Checkpoint } from "./checkpoint-format.js";
import { logKeys, logName, makeCheckpoints } from "./checkpoints.js";
import {
  inclusionProofFromSubtrees,
  leafHash,
  MerkleTreeBuilder,
  verifyInclusion,
  type SubtreeHash,
} from "./merkle.js";
import { leafInput } from "./seal.js";
import { decodeBase64Strict, parseVerifierKey, type NoteVerifier } from "./signed-note.js";

export const BUNDLE_FORMAT = "vecto-audit-bundle/1";
export const SLICE_FORMAT = "vecto-audit-slice/1";

const PAGE = 2_000;

// canonicalize is CommonJS; its typings declare an ES default export (same workaround as seal.ts).
const canonicalize = canonicalizeModule as unknown as (value: unknown) => string | undefined;

export interface BundleHeader {
  readonly format: typeof BUNDLE_FORMAT;
  readonly log: string;
  readonly origin: string;
  readonly verifierKey: string;
  readonly checkpoints: readonly string[];
}

export interface SliceHeader {
  readonly format: typeof SLICE_FORMAT;
  readonly log: string;
  readonly origin: string;
  readonly verifierKey: string;
  /** The newest signed checkpoint when the slice was written; every proof is against it. */
  readonly checkpoint: string;
  /** Events seq from..to-1. */
  readonly from: number;
  readonly to: number;
}

/** Like VerifyReport; `seq` is absent when the fault is the bundle as a whole (header, key). */
export interface BundleReport {
  readonly ok: boolean;
  readonly log: string | null;
  readonly events: number;
  readonly checkpoints: number;
  /** For a slice: the range of events it holds, [from, to). */
  readonly slice?: { readonly from: number; readonly to: number };
  readonly firstBad?: { readonly seq?: number; readonly reason: string };
}

// ---------------------------------------------------------------------------------------------
// Writing.

/** Checkpoints are made by a job; a log never checkpointed yet gets one now so it can be bundled. */
async function signedCheckpoints(
  db: Database,
  crypto: CryptoService,
  anchor: AuditAnchor,
  logId: string,
): Promise<CheckpointRow[]> {
  if (!db.auditLog.latestCheckpoint(logId)) await makeCheckpoints(db, crypto, anchor);
  const checkpoints = db.auditLog.checkpoints(logId);
  if (checkpoints.length === 0) throw new Error(`the audit log ${logName(logId)} has no events to bundle`);
  return checkpoints;
}

/** The stored rows seq start..end-1, a page in memory at a time. */
function* rowsBetween(db: Database, logId: string, start: number, end: number): Generator<AuditRow> {
  for (let from = start; from < end;) {
    // Filter, not a smaller limit: a log with a gap (tampering) must not push a row past `end` in.
    const rows = db.auditLog.page(logId, from, PAGE).filter((row) => row.seq < end);
    yield* rows;
    const last = rows.at(-1);
    if (rows.length < PAGE || last === undefined) return;
    from = last.seq + 1;
  }
}

/** The signed event exactly as its leaf hash covers it. */
function eventText(row: AuditRow): string {
  return Buffer.from(leafInput(row)).toString("utf8");
}

/**
 * The bundle of a log as lines without their newline (the writer adds "\n"). Rows are immutable
 * and the bundle stops at a checkpoint, so it is a stable cut however long streaming takes.
 */
export async function* writeBundle(
  db: Database,
  crypto: CryptoService,
  anchor: AuditAnchor,
  logId: string,
): AsyncGenerator<string> {
  const checkpoints = await signedCheckpoints(db, crypto, anchor, logId);
  const { origin, verifierKey } = await logKeys(db, crypto, logId);
  const header: BundleHeader = {
    format: BUNDLE_FORMAT,
    log: logName(logId),
    origin,
    verifierKey,
    checkpoints: checkpoints.map((cp) => cp.note),
  };
  yield JSON.stringify(header);
  for (const row of rowsBetween(db, logId, 0, (checkpoints.at(-1) as CheckpointRow).size)) yield eventText(row);
}

/**
 * RFC 6962 subtree hashes from the stored leaf hashes, memoised: the proofs of neighbouring events
 * share most of their siblings, so each range is hashed once. Memory grows with the slice (about
 * two hashes per event), not with the log.
 */
function storedSubtrees(db: Database, logId: string): SubtreeHash {
  const memo = new Map<string, Uint8Array>();
  return (start, end) => {
    const key = `${start}:${end}`;
    const known = memo.get(key);
    if (known) return known;
    const tree = new MerkleTreeBuilder();
    for (const row of rowsBetween(db, logId, start, end)) tree.append(row.leafHash);
    const hash = tree.root();
    memo.set(key, hash);
    return hash;
  };
}

/**
 * Events seq fromSeq..toSeq-1 of a log, each with its inclusion proof against the newest signed
 * checkpoint (which must cover them: run a checkpoint first for the newest events).
 */
export async function* writeSlice(
  db: Database,
  crypto: CryptoService,
  anchor: AuditAnchor,
  logId: string,
  fromSeq: number,
  toSeq: number,
): AsyncGenerator<string> {
  const newest = (await signedCheckpoints(db, crypto, anchor, logId)).at(-1) as CheckpointRow;
  if (
    !Number.isSafeInteger(fromSeq) ||
    !Number.isSafeInteger(toSeq) ||
    fromSeq < 0 ||
    fromSeq >= toSeq ||
    toSeq > newest.size
  ) {
    // Said in the inclusive FIRST-LAST form the operator gives (vecto audit export --slice).
    throw new RangeError(
      `events ${fromSeq}-${toSeq - 1} are not all under the newest signed checkpoint, which covers events 0-${newest.size - 1} (vecto audit checkpoint signs newer ones)`,
    );
  }
  const { origin, verifierKey } = await logKeys(db, crypto, logId);
  const header: SliceHeader = {
    format: SLICE_FORMAT,
    log: logName(logId),
    origin,
    verifierKey,
    checkpoint: newest.note,
    from: fromSeq,
    to: toSeq,
  };
  yield JSON.stringify(header);
  const subtree = storedSubtrees(db, logId);
  for (const row of rowsBetween(db, logId, fromSeq, toSeq)) {
    const proof = inclusionProofFromSubtrees(subtree, newest.size, row.seq).map((h) =>
      Buffer.from(h).toString("base64"),
    );
    yield `{"seq":${row.seq},"event":${eventText(row)},"proof":${JSON.stringify(proof)}}`;
  }
}

// ---------------------------------------------------------------------------------------------
// Verifying.

const labels = { log: z.string().min(1), origin: z.string().min(1), verifierKey: z.string().min(1) };
const seqSchema = z.number().int().nonnegative();

const headerSchema = z.discriminatedUnion("format", [
  z.strictObject({
    format: z.literal(BUNDLE_FORMAT),
    ...labels,
    checkpoints: z.array(z.string()).min(1, "a bundle needs at least one signed checkpoint"),
  }),
  z.strictObject({
    format: z.literal(SLICE_FORMAT),
    ...labels,
    checkpoint: z.string(),
    from: seqSchema,
    to: seqSchema,
  }),
]);

const sliceLineSchema = z.strictObject({
  seq: z.number(),
  event: z.record(z.string(), z.unknown()),
  proof: z.array(z.string()),
});

interface Signed {
  readonly size: number;
  readonly root: Uint8Array;
}

type Trusted =
  | { readonly header: BundleHeader; readonly signed: readonly Signed[] }
  | { readonly header: SliceHeader; readonly signed: readonly [Signed] };

type Fault = NonNullable<BundleReport["firstBad"]>;

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a).equals(Buffer.from(b));
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function parseHeader(line: string): BundleHeader | SliceHeader | Fault {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { reason: "line 1 is not JSON: not an audit bundle" };
  }
  const parsed = headerSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  return {
    reason: `line 1 is not a ${BUNDLE_FORMAT} or ${SLICE_FORMAT} header: ${issue?.path.join(".") || "header"}: ${issue?.message ?? "invalid"}`,
  };
}

/**
 * The key in the bundle is only a label: anyone can write a bundle with their own key. It must be
 * the one the auditor obtained out of band, and it must be the key of the log the bundle names.
 */
function trustKey(
  header: Pick<BundleHeader, "log" | "origin" | "verifierKey">,
  trustedKey: string,
): NoteVerifier | Fault {
  let verifier: NoteVerifier;
  try {
    verifier = parseVerifierKey(trustedKey);
  } catch (error) {
    return { reason: `the trusted key is not a verifier key (<origin>+<key id>+<base64 key>): ${message(error)}` };
  }
  if (header.verifierKey !== trustedKey)
    return {
      reason: `the bundle is for verifier key ${header.verifierKey}, not the trusted key ${trustedKey}: another log or installation, or a forged bundle`,
    };
  if (verifier.name !== header.origin)
    return { reason: `the bundle's origin ${header.origin} is not the trusted key's log ${verifier.name}` };
  if (!header.origin.endsWith(`/${header.log}`))
    return { reason: `the bundle names log "${header.log}" but its signed origin is ${header.origin}` };
  return verifier;
}

/** The size a note claims, read without trusting it, to name the events a bad checkpoint covers. */
function claimedSize(note: string): number | undefined {
  try {
    return parseCheckpoint(note.slice(0, note.indexOf("\n\n") + 1)).size;
  } catch {
    return undefined;
  }
}

function openNote(note: string, verifier: NoteVerifier, origin: string, index: number): Checkpoint | Fault {
  try {
    return verifyCheckpoint(note, verifier, origin);
  } catch (error) {
    const size = claimedSize(note);
    const at = size === undefined ? `number ${index + 1}` : `at size ${size}`;
    return {
      ...(size ? { seq: size - 1 } : {}),
      reason: `the checkpoint ${at} does not verify with the trusted key: ${message(error)}`,
    };
  }
}

function checkNotes(notes: readonly string[], origin: string, verifier: NoteVerifier): Signed[] | Fault {
  const signed: Signed[] = [];
  for (const note of notes) {
    const cp = openNote(note, verifier, origin, signed.length);
    if ("reason" in cp) return cp;
    const previous = signed.at(-1)?.size ?? 0;
    // Oldest first, each larger: the verifier checks each root as the tree passes its size.
    if (cp.size <= previous)
      return {
        seq: cp.size,
        reason: `the checkpoints are not in increasing size order (size ${cp.size} after ${previous})`,
      };
    signed.push({ size: cp.size, root: cp.rootHash });
  }
  return signed;
}

/** A slice's one checkpoint, which must cover the whole range it claims. */
function trustSlice(header: SliceHeader, verifier: NoteVerifier): Trusted | Fault {
  const cp = openNote(header.checkpoint, verifier, header.origin, 0);
  if ("reason" in cp) return cp;
  if (header.from >= header.to || header.to > cp.size)
    return {
      reason: `the slice claims events ${header.from}..${header.to - 1}, outside its signed checkpoint of size ${cp.size}`,
    };
  return { header, signed: [{ size: cp.size, root: cp.rootHash }] };
}

function readTrusted(line: string, trustedKey: string): Trusted | Fault {
  const header = parseHeader(line);
  if ("reason" in header) return header;
  const verifier = trustKey(header, trustedKey);
  if ("reason" in verifier) return verifier;
  if (header.format === SLICE_FORMAT) return trustSlice(header, verifier);
  const signed = checkNotes(header.checkpoints, header.origin, verifier);
  return "reason" in signed ? signed : { header, signed };
}

/** Where `seq` was expected but the line holds `claimed`; undefined when they agree. */
function sequenceProblem(claimed: number, seq: number, where: string): string | undefined {
  if (claimed > seq) return `event ${seq} is missing or out of place (${where} holds event ${claimed})`;
  if (claimed < seq) return `${where} holds event ${claimed} again or out of order, where event ${seq} belongs`;
  return undefined;
}

/** Why the line of event `seq` is bad, or undefined. Line numbers are 1-based, the header is line 1. */
function lineProblem(line: string, seq: number): string | undefined {
  const where = `line ${seq + 2}`;
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return `${where} is not JSON (cut short or edited)`;
  }
  const claimed =
    typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>).seq
      : undefined;
  if (typeof claimed !== "number") return `${where} is not an audit event (no numeric seq)`;
  const order = sequenceProblem(claimed, seq, where);
  if (order) return order;
  // Only the canonical bytes were signed: any other spelling of the same JSON is not that event.
  if (canonicalize(value) !== line)
    return `${where} is not the event's RFC 8785 canonical JSON (re-serialised or edited), so it is not the signed event`;
  return undefined;
}

/** Streams the event lines through the tree, checking the root at each signed size. */
async function checkEvents(
  lines: AsyncIterable<string>,
  signed: readonly Signed[],
): Promise<{ events: number; bad?: Fault }> {
  const newest = (signed.at(-1) as Signed).size;
  const tree = new MerkleTreeBuilder();
  let next = 0; // index into signed: the next checkpoint to reach
  let vouched = 0; // events 0..vouched-1 are proven by a checkpoint already
  for await (const line of lines) {
    const seq = tree.size;
    if (seq >= newest)
      return {
        events: seq,
        bad: {
          seq,
          reason: `the bundle goes on past its newest signed checkpoint (size ${newest}): event ${seq} and after are covered by no signature`,
        },
      };
    const problem = lineProblem(line, seq);
    if (problem) return { events: seq, bad: { seq, reason: problem } };
    tree.append(leafHash(Buffer.from(line, "utf8")));
    const due = signed[next];
    if (due?.size !== tree.size) continue;
    if (!equal(tree.root(), due.root)) {
      const which = vouched === due.size - 1 ? `event ${vouched} does` : `events ${vouched}..${due.size - 1} do`;
      return {
        events: tree.size,
        bad: {
          seq: vouched,
          reason: `${which} not match the signed checkpoint at size ${due.size}: changed, added or removed`,
        },
      };
    }
    vouched = due.size;
    next++;
  }
  if (tree.size < newest)
    return {
      events: tree.size,
      bad: {
        seq: tree.size,
        reason: `the bundle ends after ${tree.size} events, but a signed checkpoint covers ${newest}: events were removed from the end`,
      },
    };
  return { events: tree.size };
}

function parseSliceLine(line: string): z.output<typeof sliceLineSchema> | undefined {
  try {
    const parsed = sliceLineSchema.safeParse(JSON.parse(line));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** Why a slice line is bad, or undefined: it must prove its event sits at `seq` under the signed root. */
function sliceLineProblem(line: string, seq: number, lineNo: number, cp: Signed): string | undefined {
  const where = `line ${lineNo}`;
  const parsed = parseSliceLine(line);
  if (!parsed) return `${where} is not a slice line {"seq","event","proof"} (cut short or edited)`;
  const order =
    sequenceProblem(parsed.seq, seq, where) ??
    (parsed.event.seq === seq
      ? undefined
      : `${where}: the event inside claims seq ${String(parsed.event.seq)}, not ${seq}`);
  if (order) return order;
  const proof = parsed.proof.map(decodeBase64Strict);
  // The leaf is the canonical form of the event, which is unique: any change to it changes the leaf.
  const text = canonicalize(parsed.event);
  const proven =
    text !== undefined &&
    proof.every((h) => h !== null) &&
    verifyInclusion(leafHash(Buffer.from(text, "utf8")), seq, cp.size, proof as Uint8Array[], cp.root);
  return proven
    ? undefined
    : `event ${seq} is not the one the signed checkpoint at size ${cp.size} holds at that position (edited, or its proof is wrong)`;
}

async function checkSliceEvents(
  lines: AsyncIterable<string>,
  header: SliceHeader,
  cp: Signed,
): Promise<{ events: number; bad?: Fault }> {
  let seq = header.from;
  for await (const line of lines) {
    if (seq >= header.to)
      return {
        events: seq - header.from,
        bad: { seq, reason: `the slice goes on past the events ${header.from}..${header.to - 1} its header claims` },
      };
    const problem = sliceLineProblem(line, seq, seq - header.from + 2, cp);
    if (problem) return { events: seq - header.from, bad: { seq, reason: problem } };
    seq++;
  }
  if (seq < header.to)
    return {
      events: seq - header.from,
      bad: {
        seq,
        reason: `the slice ends at event ${seq - 1}, but its header claims events up to ${header.to - 1}: events were removed from the end`,
      },
    };
  return { events: seq - header.from };
}

/**
 * Verifies a bundle or a slice offline against a verifier key obtained out of band (never the one inside the
 * bundle). `lines` are the file's lines without their newline; the first fault is reported.
 */
export async function verifyBundle(lines: AsyncIterable<string>, trustedVerifierKey: string): Promise<BundleReport> {
  const iterator = lines[Symbol.asyncIterator]();
  const first = await iterator.next();
  const trusted = first.done
    ? { reason: "the file is empty: no bundle header" }
    : readTrusted(first.value, trustedVerifierKey);
  if ("reason" in trusted) {
    await iterator.return?.();
    return { ok: false, log: null, events: 0, checkpoints: 0, firstBad: trusted };
  }
  const rest: AsyncIterable<string> = { [Symbol.asyncIterator]: () => iterator };
  const { header, signed } = trusted;
  const { events, bad } =
    header.format === SLICE_FORMAT
      ? await checkSliceEvents(rest, header, signed[0] as Signed)
      : await checkEvents(rest, signed);
  const slice = header.format === SLICE_FORMAT ? { slice: { from: header.from, to: header.to } } : {};
  return {
    ok: bad === undefined,
    log: header.log,
    events,
    checkpoints: signed.length,
    ...slice,
    ...(bad ? { firstBad: bad } : {}),
  };
}
