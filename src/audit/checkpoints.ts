/**
 * Signed checkpoints of the audit logs: for each log, the Merkle root at its current size, in a
 * C2SP checkpoint signed with the installation's Ed25519 key (key name = the log's origin). A
 * third party holding only the verifier key can check them offline; a later checkpoint also
 * commits to every earlier one through the Merkle tree. Made by the scheduled job and on demand.
 */
import type { CryptoService } from "../crypto/index.js";
import type { CheckpointRow } from "../db/audit-log.js";
import { PLATFORM_LOG, type Database } from "../db/db.js";
import type { AnchorCheckpoint, AuditAnchor } from "./anchor.js";
import { checkpointOrigin, signCheckpoint } from "./checkpoint.js";
import { HASH_SIZE, MerkleTreeBuilder } from "./merkle.js";
import { formatVerifierKey, noteSigner } from "./signed-note.js";

const PAGE = 2_000;

export interface LogKeys {
  readonly origin: string;
  /** C2SP verifier key: `<origin>+<key id>+<base64 key>`. */
  readonly verifierKey: string;
}

/** The name a log goes by in checkpoints: the tenant id, or "platform" for the installation's own. */
export function logName(logId: string): string {
  return logId === PLATFORM_LOG ? "platform" : logId;
}

export async function logKeys(db: Database, crypto: CryptoService, logId: string): Promise<LogKeys> {
  const origin = checkpointOrigin(db.installationId(), logName(logId));
  return { origin, verifierKey: formatVerifierKey(origin, (await crypto.signer("audit-checkpoint")).publicKey) };
}

function splitFrontier(bytes: Uint8Array): Uint8Array[] {
  const hashes: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += HASH_SIZE) hashes.push(bytes.slice(i, i + HASH_SIZE));
  return hashes;
}

function joinFrontier(hashes: readonly Uint8Array[]): Uint8Array {
  return Buffer.concat(hashes.map((h) => Buffer.from(h)));
}

/** The tree over a log's leaves, resumed from its latest checkpoint so only new leaves are hashed. */
function extendTree(db: Database, logId: string): MerkleTreeBuilder {
  const last = db.auditLog.latestCheckpoint(logId);
  const tree = last ? MerkleTreeBuilder.fromFrontier(last.size, splitFrontier(last.frontier)) : new MerkleTreeBuilder();
  for (;;) {
    const page = db.auditLog.leafHashes(logId, tree.size, PAGE);
    for (const leaf of page) tree.append(leaf);
    if (page.length < PAGE) return tree;
  }
}

function anchorOf(db: Database, row: CheckpointRow): AnchorCheckpoint {
  return { log: logName(row.tenantId), origin: checkpointOrigin(db.installationId(), logName(row.tenantId)), size: row.size, rootHash: row.rootHash, note: row.note };
}

/** Creates the anchor directory, seeded with every checkpoint in the database, unless it exists (src/audit/anchor.ts). */
export function ensureAnchors(db: Database, anchor: AuditAnchor): void {
  anchor.ensure(() => db.auditLog.logIds().flatMap((logId) => db.auditLog.checkpoints(logId).map((row) => anchorOf(db, row))));
}

/**
 * Checkpoints every log that grew since its last one; returns the new checkpoints. Each is
 * appended to the anchor file once its row committed: a crash between leaves the anchor one
 * checkpoint behind the database, which verify accepts (an anchor is a lower bound).
 */
export async function makeCheckpoints(db: Database, crypto: CryptoService, anchor: AuditAnchor, now: () => Date = () => new Date()): Promise<CheckpointRow[]> {
  ensureAnchors(db, anchor);
  const made: CheckpointRow[] = [];
  const signer = await crypto.signer("audit-checkpoint");
  for (const logId of db.auditLog.logIds()) {
    const tree = extendTree(db, logId);
    if (tree.size === 0 || tree.size === db.auditLog.latestCheckpoint(logId)?.size) continue;
    const origin = checkpointOrigin(db.installationId(), logName(logId));
    const rootHash = tree.root();
    const note = signCheckpoint({ origin, size: tree.size, rootHash, time: new Date(Math.floor(now().getTime() / 1000) * 1000) }, noteSigner(origin, signer));
    const row: CheckpointRow = { tenantId: logId, size: tree.size, rootHash, frontier: joinFrontier(tree.frontier()), note, createdAt: now().toISOString() };
    db.saveCheckpoint(row);
    anchor.append([anchorOf(db, row)]);
    made.push(row);
  }
  return made;
}
