/**
 * Verifying an audit log end to end: every event's HMAC, its leaf hash, an unbroken sequence, and
 * the Merkle root at every signed checkpoint. Reports the first bad event, so an edit, a deletion,
 * an insertion, a reorder or a truncation is named, whichever way it was made.
 */
import type { CryptoService } from "../crypto/crypto-service.js";
import type { AuditRow } from "../db/audit-log.js";
import type { Database } from "../db/db.js";
import { verifyCheckpoint } from "./checkpoint.js";
import { logKeys, logName } from "./checkpoints.js";
import { MerkleTreeBuilder } from "./merkle.js";
import { leafHashOf, signatureInput } from "./seal.js";

const PAGE = 2_000;

export interface VerifyReport {
  readonly log: string;
  readonly events: number;
  readonly checkpoints: number;
  readonly ok: boolean;
  readonly firstBad?: { readonly seq: number; readonly reason: string };
}

interface Expected {
  readonly size: number;
  readonly root: Uint8Array;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a).equals(Buffer.from(b));
}

/** Why this row is bad, or undefined when it is sound. */
function rowProblem(row: AuditRow, expectedSeq: number, mac: (data: Uint8Array) => Uint8Array): string | undefined {
  if (row.seq !== expectedSeq) return `event ${expectedSeq} is missing (the next stored event is ${row.seq})`;
  if (!equal(mac(signatureInput(row)), row.signature)) return "its HMAC signature does not match its content (edited, moved, or signed with another key)";
  if (!equal(leafHashOf(row), row.leafHash)) return "its stored leaf hash does not match its content";
  return undefined;
}

/** The signed checkpoints of the log, each checked against the installation's key. */
async function signedSizes(db: Database, crypto: CryptoService, logId: string): Promise<{ sizes: Expected[]; bad?: VerifyReport["firstBad"] }> {
  const { origin, verifierKey } = await logKeys(db, crypto, logId);
  const sizes: Expected[] = [];
  for (const cp of db.auditLog.checkpoints(logId)) {
    try {
      const parsed = verifyCheckpoint(cp.note, verifierKey, origin);
      if (parsed.size !== cp.size || !equal(parsed.rootHash, cp.rootHash)) throw new Error("stored size or root differs from the signed one");
      sizes.push({ size: parsed.size, root: parsed.rootHash });
    } catch {
      return { sizes, bad: { seq: cp.size - 1, reason: `the checkpoint at size ${cp.size} does not verify with the installation key` } };
    }
  }
  return { sizes };
}

export async function verifyLog(db: Database, crypto: CryptoService, logId: string): Promise<VerifyReport> {
  const mac = await crypto.macFunction("audit-hmac");
  const signed = await signedSizes(db, crypto, logId);
  const report = (events: number, firstBad?: VerifyReport["firstBad"]): VerifyReport => ({ log: logName(logId), events, checkpoints: signed.sizes.length, ok: firstBad === undefined, ...(firstBad ? { firstBad } : {}) });
  if (signed.bad) return report(0, signed.bad);
  const pending = [...signed.sizes];
  const tree = new MerkleTreeBuilder();
  for (;;) {
    const page = db.auditLog.page(logId, tree.size, PAGE);
    for (const row of page) {
      const problem = rowProblem(row, tree.size, mac);
      if (problem) return report(tree.size, { seq: tree.size, reason: problem });
      tree.append(row.leafHash);
      const due = pending[0];
      if (due && due.size === tree.size) {
        if (!equal(tree.root(), due.root)) return report(tree.size, { seq: due.size - 1, reason: `the log up to event ${due.size - 1} no longer matches its signed checkpoint (an event at or before it was changed, added or removed)` });
        pending.shift();
      }
    }
    if (page.length < PAGE) break;
  }
  const covered = pending.at(-1);
  if (covered) return report(tree.size, { seq: tree.size, reason: `the log ends after ${tree.size} events, but a signed checkpoint covers ${covered.size}: events were removed from the end` });
  return report(tree.size);
}
