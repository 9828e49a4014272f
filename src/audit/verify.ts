/**
 * Verifying an audit log end to end: every event's HMAC, its leaf hash, an unbroken sequence, and
 * the Merkle root at every signed checkpoint. Reports the first bad event, so an edit, a deletion,
 * an insertion, a reorder or a truncation is named, whichever way it was made. The checkpoints
 * in the database can be deleted with the events they cover, so the log is also checked against
 * checkpoints kept outside it: the highest anchor (src/audit/anchor.ts), the anchor in the HSM
 * token when the master key is in one, and an auditor's saved copy.
 */
import type { CryptoService, MacKey } from "../crypto/index.js";
import type { AuditRow } from "../db/repositories/audit-log.js";
import type { Database } from "../db/db.js";
import type { AuditAnchor } from "./anchor.js";
import { verifyCheckpoint } from "./checkpoint-format.js";
import { logKeys, logName, type LogKeys } from "./checkpoints.js";
import { MerkleTreeBuilder } from "./merkle.js";
import { leafHashOf, signatureInput } from "./seal.js";

const PAGE = 2_000;

export interface VerifyReport {
  readonly log: string;
  readonly events: number;
  readonly checkpoints: number;
  /** The highest anchor the log was checked against (`<file>:<line>` and its tree size); absent when none. */
  readonly anchor?: { readonly at: string; readonly size: number };
  /** The anchor in the HSM token the log was checked against (pkcs11 only); absent when none. */
  readonly tokenAnchor?: { readonly at: string; readonly size: number };
  readonly ok: boolean;
  readonly firstBad?: { readonly seq: number; readonly reason: string };
}

/** An auditor's saved copy of a signed checkpoint (`--trusted-checkpoint FILE`), and where it came from. */
export interface TrustedNote {
  readonly at: string;
  readonly note: string;
}

/** What the log must match at a size, and who says so. */
interface Expected {
  readonly size: number;
  readonly root: Uint8Array;
  /** Null: a checkpoint in the database; otherwise the anchor line or trusted file, for messages. */
  readonly outside: string | null;
}

type Bad = NonNullable<VerifyReport["firstBad"]>;

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a).equals(Buffer.from(b));
}

/** Why this row is bad, or undefined when it is sound. */
function rowProblem(row: AuditRow, expectedSeq: number, mac: MacKey): string | undefined {
  if (row.seq !== expectedSeq) return `event ${expectedSeq} is missing (the next stored event is ${row.seq})`;
  if (!mac.verify(signatureInput(row), row.signature))
    return "its HMAC signature does not match its content (edited, moved, or signed with another key)";
  if (!equal(leafHashOf(row), row.leafHash)) return "its stored leaf hash does not match its content";
  return undefined;
}

/** The signed checkpoints of the log, each checked against the installation's key. */
function signedSizes(db: Database, keys: LogKeys, logId: string): { sizes: Expected[]; bad?: Bad } {
  const sizes: Expected[] = [];
  for (const cp of db.auditLog.checkpoints(logId)) {
    try {
      const parsed = verifyCheckpoint(cp.note, keys.verifierKey, keys.origin);
      if (parsed.size !== cp.size || !equal(parsed.rootHash, cp.rootHash))
        throw new Error("stored size or root differs from the signed one");
      sizes.push({ size: parsed.size, root: parsed.rootHash, outside: null });
    } catch {
      return {
        sizes,
        bad: {
          seq: cp.size - 1,
          reason: `the checkpoint at size ${cp.size} does not verify with the installation key`,
        },
      };
    }
  }
  return { sizes };
}

/** The note's size and root if it is a checkpoint of this log signed by the installation key; null otherwise. */
function opened(note: string, keys: LogKeys, outside: string): Expected | null {
  try {
    const cp = verifyCheckpoint(note, keys.verifierKey, keys.origin);
    return { size: cp.size, root: cp.rootHash, outside };
  } catch {
    return null;
  }
}

/**
 * The highest anchor of the log. An anchor line that does not verify is reported, never trusted;
 * a missing file or directory is a failure once the database holds checkpoints for the log, since
 * deleting the anchor is the next step of the attack it stops.
 */
function highestAnchor(
  anchor: AuditAnchor,
  keys: LogKeys,
  logId: string,
  stored: number,
): { highest?: Expected & { at: string }; bad?: string } {
  const read = anchor.read(logName(logId));
  if (read.state !== "lines") {
    if (stored === 0) return {};
    const where =
      read.state === "no-directory"
        ? "the anchor directory (VECTO_AUDIT_ANCHOR_DIR) does not exist (vecto serve or vecto audit checkpoint creates it, seeded from the database)"
        : `the anchor file ${read.name} is missing`;
    return { bad: `${where}, yet the database holds ${stored} signed checkpoints of this log: anchors deleted?` };
  }
  let highest: (Expected & { at: string }) | undefined;
  for (const line of read.lines) {
    if (line.note === null)
      return {
        bad: `the anchor line ${line.at} is unreadable (torn by a crash or a full disk, or edited); it was not trusted`,
      };
    const cp = opened(line.note, keys, `the anchor at ${line.at}`);
    if (cp === null)
      return {
        bad: `the anchor line ${line.at} is not a checkpoint of this log signed by the installation key (edited or forged); it was not trusted`,
      };
    if (!highest || cp.size > highest.size) highest = { ...cp, at: line.at };
  }
  if (highest) return { highest };
  // Emptied rather than deleted: the same attack, named the same way.
  if (stored === 0) return {};
  return {
    bad: `the anchor file ${read.name} is empty, yet the database holds ${stored} signed checkpoints of this log: anchors deleted?`,
  };
}

/** The token's anchor of the log, as an expectation; what the token holds is trusted as it stands (it needs the PIN to write). */
async function tokenExpectation(
  anchor: AuditAnchor,
  keys: LogKeys,
): Promise<{ expected?: Expected & { at: string }; bad?: string }> {
  const read = await anchor.readToken(keys.origin);
  if (read.state === "unreadable") return { bad: `the anchor in ${read.where} could not be checked: ${read.reason}` };
  if (read.state !== "anchor") return {};
  const at = `the anchor in ${read.anchor.where}`;
  return { expected: { size: read.anchor.size, root: read.anchor.rootHash, outside: at, at } };
}

/** The trusted notes for this log (by origin), each of which must verify. */
function trustedSizes(trusted: readonly TrustedNote[], keys: LogKeys): { sizes: Expected[]; bad?: string } {
  const sizes: Expected[] = [];
  for (const t of trusted.filter((n) => n.note.split("\n", 1)[0] === keys.origin)) {
    const cp = opened(t.note, keys, `the trusted checkpoint ${t.at}`);
    if (cp === null) return { sizes, bad: `the trusted checkpoint ${t.at} does not verify with the installation key` };
    sizes.push(cp);
  }
  return { sizes };
}

/** Walks the log, checking each expected root as its size is reached; names the first failure. */
async function walk(
  db: Database,
  crypto: CryptoService,
  logId: string,
  expected: readonly Expected[],
): Promise<{ events: number; bad?: Bad }> {
  const mac = await crypto.mac("audit-hmac");
  const pending = [...expected].sort((a, b) => a.size - b.size);
  const tree = new MerkleTreeBuilder();
  for (;;) {
    const page = db.auditLog.page(logId, tree.size, PAGE);
    for (const row of page) {
      const problem = rowProblem(row, tree.size, mac);
      if (problem) return { events: tree.size, bad: { seq: tree.size, reason: problem } };
      tree.append(row.leafHash);
      for (let due = pending[0]; due && due.size === tree.size; due = pending[0]) {
        if (!equal(tree.root(), due.root))
          return { events: tree.size, bad: { seq: due.size - 1, reason: mismatch(due) } };
        pending.shift();
      }
    }
    if (page.length < PAGE) break;
  }
  // Of the expectations at the highest size, the database's own checkpoint is named first (it is listed first).
  const covered = pending.find((due) => due.size === pending.at(-1)?.size);
  if (covered) return { events: tree.size, bad: { seq: tree.size, reason: truncated(tree.size, covered) } };
  return { events: tree.size };
}

function mismatch(due: Expected): string {
  if (due.outside === null)
    return `the log up to event ${due.size - 1} no longer matches its signed checkpoint (an event at or before it was changed, added or removed)`;
  return `the log at size ${due.size} does not match ${due.outside}: a rollback or fork (the log was replaced by another history up to event ${due.size - 1})`;
}

function truncated(events: number, covered: Expected): string {
  if (covered.outside === null)
    return `the log ends after ${events} events, but a signed checkpoint covers ${covered.size}: events were removed from the end`;
  return `the log has ${events} events, ${covered.outside} covers ${covered.size} > ${events}: events ${events}..${covered.size - 1} were removed (cut from the end, or an older copy of the database was put back)`;
}

/**
 * Verifies a log against its own signed checkpoints, the highest anchor outside the database, the
 * anchor in the HSM token (pkcs11) and any trusted checkpoints an auditor saved. The anchor must also be among the database's
 * checkpoints: anchors are written after the row commits, so one the database lacks was deleted.
 */
export async function verifyLog(
  db: Database,
  crypto: CryptoService,
  anchor: AuditAnchor,
  logId: string,
  trusted: readonly TrustedNote[] = [],
): Promise<VerifyReport> {
  const keys = await logKeys(db, crypto, logId);
  // A running server appends an anchor line just after its checkpoint row commits. So the anchor
  // is read between two reads of the checkpoints: a missing anchor file is judged by the rows
  // there were before it, and each anchor line must be among the rows read after it. A checkpoint
  // committed in between then never reads as deleted.
  const storedBefore = db.auditLog.checkpoints(logId).length;
  const found = highestAnchor(anchor, keys, logId, storedBefore);
  const signed = signedSizes(db, keys, logId);
  const extra = trustedSizes(trusted, keys);
  const token = await tokenExpectation(anchor, keys);
  const highest = found.highest;
  const inToken = token.expected;
  const report = (events: number, firstBad?: Bad): VerifyReport => ({
    log: logName(logId),
    events,
    checkpoints: signed.sizes.length,
    ...(highest ? { anchor: { at: highest.at, size: highest.size } } : {}),
    ...(inToken ? { tokenAnchor: { at: inToken.at, size: inToken.size } } : {}),
    ok: firstBad === undefined,
    ...(firstBad ? { firstBad } : {}),
  });
  if (signed.bad) return report(0, signed.bad);
  const walked = await walk(db, crypto, logId, [
    ...signed.sizes,
    ...(highest ? [highest] : []),
    ...(inToken ? [inToken] : []),
    ...extra.sizes,
  ]);
  if (walked.bad) return report(walked.events, walked.bad);
  if (token.bad) return report(walked.events, { seq: walked.events, reason: token.bad });
  if (extra.bad) return report(walked.events, { seq: walked.events, reason: extra.bad });
  if (found.bad) return report(walked.events, { seq: walked.events, reason: found.bad });
  if (highest && !signed.sizes.some((cp) => cp.size === highest.size && equal(cp.root, highest.root))) {
    return report(walked.events, {
      seq: highest.size - 1,
      reason: `${highest.outside ?? "the anchor"} holds a signed checkpoint at size ${highest.size} that the database no longer has: its checkpoint was deleted`,
    });
  }
  return report(walked.events);
}
