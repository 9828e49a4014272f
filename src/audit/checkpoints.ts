/**
 * Signed checkpoints of the audit logs: for each log, the Merkle root at its current size, in a
 * C2SP checkpoint signed with the installation's Ed25519 key (key name = the log's origin). A
 * third party holding only the verifier key can check them offline; a later checkpoint also
 * commits to every earlier one through the Merkle tree. Made as the logs grow (src/audit/checkpointer.ts),
 * by the scheduled job as a safety net, and on demand.
 */
import type { CryptoService } from "../crypto/index.js";
import type { CheckpointRow } from "../db/repositories/audit-log.js";
import { PLATFORM_LOG, type Database } from "../db/db.js";
import type { AnchorCheckpoint, AuditAnchor } from "./anchor.js";
import { checkpointOrigin, signCheckpoint } from "./checkpoint-format.js";
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
  return {
    log: logName(row.tenantId),
    origin: checkpointOrigin(db.installationId(), logName(row.tenantId)),
    size: row.size,
    rootHash: row.rootHash,
    note: row.note,
  };
}

/** Creates the anchor directory, seeded with every checkpoint in the database, unless it exists (src/audit/anchor.ts). */
export function ensureAnchors(db: Database, anchor: AuditAnchor): void {
  anchor.ensure(() =>
    db.auditLog.logIds().flatMap((logId) => db.auditLog.checkpoints(logId).map((row) => anchorOf(db, row))),
  );
}

/** Whether the database holds a checkpoint of the log at this size with this root (the token's anchor must be one). */
function holdsCheckpoint(db: Database, logId: string, size: number, rootHash: Uint8Array): boolean {
  const row = db.auditLog.checkpoints(logId).find((cp) => cp.size === size);
  return row !== undefined && Buffer.from(row.rootHash).equals(Buffer.from(rootHash));
}

/** Brings the token's anchor of each log up to its newest checkpoint, where it is behind (at start: after an upgrade, or a crash between row and token). */
export async function ensureTokenAnchors(db: Database, anchor: AuditAnchor): Promise<void> {
  for (const logId of db.auditLog.logIds()) {
    const latest = db.auditLog.latestCheckpoint(logId);
    if (latest) await anchor.toToken(anchorOf(db, latest), (size, root) => holdsCheckpoint(db, logId, size, root));
  }
}

/** The run in progress per database: runs from the checkpointer, the job, the API and the CLI never overlap in a process. */
const running = new WeakMap<Database, Promise<unknown>>();

export interface CheckpointOptions {
  readonly now?: () => Date;
  /** Only these logs (the ones the checkpointer was told grew); default: every log. */
  readonly logs?: readonly string[];
}

/**
 * Checkpoints every log that grew since its last one (or those of `options.logs`); returns the
 * new checkpoints. Each is appended to the anchor file once its row committed, then to the
 * token's anchor: a crash between leaves an anchor one checkpoint behind the database, which
 * verify accepts (an anchor is a lower bound).
 */
export function makeCheckpoints(
  db: Database,
  crypto: CryptoService,
  anchor: AuditAnchor,
  options: CheckpointOptions = {},
): Promise<CheckpointRow[]> {
  const previous = running.get(db) ?? Promise.resolve();
  const run = previous.then(
    () => checkpointLogs(db, crypto, anchor, options),
    () => checkpointLogs(db, crypto, anchor, options),
  );
  running.set(db, run);
  return run;
}

async function checkpointLogs(
  db: Database,
  crypto: CryptoService,
  anchor: AuditAnchor,
  options: CheckpointOptions,
): Promise<CheckpointRow[]> {
  const now = options.now ?? (() => new Date());
  ensureAnchors(db, anchor);
  // Anchor lines a failed run could not write go first (a run that throws here is retried).
  anchor.append([]);
  const made: CheckpointRow[] = [];
  const signer = await crypto.signer("audit-checkpoint");
  for (const logId of options.logs ?? db.auditLog.logIds()) {
    const tree = extendTree(db, logId);
    if (tree.size === 0 || tree.size === db.auditLog.latestCheckpoint(logId)?.size) continue;
    const origin = checkpointOrigin(db.installationId(), logName(logId));
    const rootHash = tree.root();
    const note = signCheckpoint(
      { origin, size: tree.size, rootHash, time: new Date(Math.floor(now().getTime() / 1000) * 1000) },
      noteSigner(origin, signer),
    );
    const row: CheckpointRow = {
      tenantId: logId,
      size: tree.size,
      rootHash,
      frontier: joinFrontier(tree.frontier()),
      note,
      createdAt: now().toISOString(),
    };
    db.saveCheckpoint(row);
    anchor.append([anchorOf(db, row)]);
    made.push(row);
  }
  for (const row of made)
    await anchor.toToken(anchorOf(db, row), (size, root) => holdsCheckpoint(db, row.tenantId, size, root));
  return made;
}
