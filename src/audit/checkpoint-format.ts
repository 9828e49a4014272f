/**
 * Checkpoints of the audit log in the C2SP tlog-checkpoint format (https://c2sp.org/tlog-checkpoint):
 * a signed note whose text is the origin, the tree size, the base64 RFC 6962 root hash, then
 * extension lines. Vecto adds exactly one extension line, `time <RFC 3339 UTC>`, so a verifier
 * can tell how fresh a checkpoint is. The spec allows extension lines (opaque, optional, each
 * non-empty) but does not recommend them because monitors cannot audit them; the time is
 * therefore informational, the tree size and root hash are what consistency proofs bind.
 *
 * Parsing is strict and canonical (one spelling per checkpoint) and refuses extension lines it
 * does not know: an audit verifier must not silently skip signed content.
 */
import {
  decodeBase64Strict,
  hasControlCharacter,
  isValidKeyName,
  open,
  parseVerifierKey,
  sign,
  type NoteSigner,
  type NoteVerifier,
} from "./signed-note.js";

export const ROOT_HASH_BYTES = 32; // SHA-256, RFC 6962
const TIME_PREFIX = "time ";
const ORIGIN_HOST = "vecto.local";

export interface Checkpoint {
  /** Log identity, e.g. `vecto.local/<installation-id>/<scope>`. */
  readonly origin: string;
  /** Number of leaves; a safe integer (2^53 - 1 leaves is beyond any appliance). */
  readonly size: number;
  /** RFC 6962 Merkle tree root at `size` leaves, 32 bytes. */
  readonly rootHash: Uint8Array;
  /** When the checkpoint was made; written in UTC, to the millisecond if it has one. */
  readonly time: Date;
}

/** The body of a checkpoint is wrong (not its signature: that is a SignedNoteError). */
export class CheckpointError extends Error {
  override readonly name = "CheckpointError";
}

/**
 * `vecto.local/<installation-id>/<scope>`: a schema-less URL-like origin (spec recommendation),
 * unique per installation and per log. Segments are restricted to URL-safe characters so the
 * origin is also a valid note key name (no spaces, no "+").
 */
export function checkpointOrigin(installationId: string, scope: string): string {
  for (const [what, segment] of [
    ["installation id", installationId],
    ["scope", scope],
  ] as const) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._~-]{0,127}$/.test(segment)) {
      throw new CheckpointError(`${what} must be 1-128 characters of A-Z a-z 0-9 . _ ~ - (not starting with a symbol)`);
    }
  }
  return `${ORIGIN_HOST}/${installationId}/${scope}`;
}

export function formatCheckpoint(cp: Checkpoint): string {
  requireOrigin(cp.origin);
  if (!Number.isSafeInteger(cp.size) || cp.size < 0)
    throw new CheckpointError("tree size must be a non-negative safe integer");
  if (!(cp.rootHash instanceof Uint8Array) || cp.rootHash.length !== ROOT_HASH_BYTES)
    throw new CheckpointError(`root hash must be ${ROOT_HASH_BYTES} bytes`);
  const rootHash = Buffer.from(cp.rootHash).toString("base64");
  return `${cp.origin}\n${cp.size}\n${rootHash}\n${TIME_PREFIX}${formatTime(cp.time)}\n`;
}

/** Strict inverse of formatCheckpoint: formatCheckpoint(parseCheckpoint(t)) === t. */
export function parseCheckpoint(text: string): Checkpoint {
  if (!text.endsWith("\n")) throw new CheckpointError("checkpoint text must end in a newline");
  const lines = text.slice(0, -1).split("\n");
  const [origin, size, rootHash, ...extensions] = lines;
  if (origin === undefined || size === undefined || rootHash === undefined)
    throw new CheckpointError("checkpoint needs origin, size and root hash lines");
  if (lines.some((line) => line === "")) throw new CheckpointError("checkpoint lines must be non-empty");
  return {
    origin: parseOrigin(origin),
    size: parseSize(size),
    rootHash: parseRootHash(rootHash),
    time: parseTimeExtension(extensions),
  };
}

/**
 * The key name should equal the origin (tlog-checkpoint, "Signatures"); that is the caller's
 * choice of signer name, not enforced here (one installation key may sign several scopes).
 */
export function signCheckpoint(cp: Checkpoint, signer: NoteSigner): string {
  return sign(formatCheckpoint(cp), signer);
}

/**
 * Opens a signed checkpoint with one trusted key and checks it is for the expected log.
 * Throws SignedNoteError if no valid signature by that key, CheckpointError if the body is wrong.
 */
export function verifyCheckpoint(
  note: string | Uint8Array,
  verifierKey: string | NoteVerifier,
  expectedOrigin: string,
): Checkpoint {
  const verifier = typeof verifierKey === "string" ? parseVerifierKey(verifierKey) : verifierKey;
  const cp = parseCheckpoint(open(note, [verifier]).text);
  // A valid checkpoint of another log (another scope or installation) must not pass as this one.
  if (cp.origin !== expectedOrigin) throw new CheckpointError("checkpoint is for another origin");
  return cp;
}

// --- fields -------------------------------------------------------------------------------------

function requireOrigin(origin: string): void {
  // Spec: SHOULD contain neither spaces nor "+", i.e. be usable as the signing key's name.
  if (typeof origin !== "string" || !isValidKeyName(origin)) {
    throw new CheckpointError("origin must be non-empty, without spaces, '+' or control characters");
  }
}

/**
 * Clients MUST NOT assume the recommended origin format, so spaces or "+" are read; control
 * characters are not, since no signed note can carry them.
 */
function parseOrigin(line: string): string {
  if (line === "" || hasControlCharacter(line, false))
    throw new CheckpointError("origin must be non-empty, without control characters");
  return line;
}

function parseSize(line: string): number {
  // Canonical decimal: no sign, no leading zeros, no exponent; and exact as a JS number.
  const size = /^(?:0|[1-9][0-9]{0,15})$/.test(line) ? Number(line) : Number.NaN;
  if (!Number.isSafeInteger(size)) throw new CheckpointError("tree size must be a canonical non-negative decimal");
  return size;
}

function parseRootHash(line: string): Uint8Array {
  const hash = decodeBase64Strict(line);
  if (hash === null || hash.length !== ROOT_HASH_BYTES)
    throw new CheckpointError(`root hash must be ${ROOT_HASH_BYTES} bytes in padded standard base64`);
  return hash;
}

function parseTimeExtension(extensions: readonly string[]): Date {
  const [line, ...others] = extensions;
  if (line === undefined || !line.startsWith(TIME_PREFIX))
    throw new CheckpointError("checkpoint has no time extension line");
  if (others.length > 0) throw new CheckpointError("checkpoint has unknown extension lines");
  return parseTime(line.slice(TIME_PREFIX.length));
}

/** RFC 3339 in UTC ("Z"), seconds precision unless the time has milliseconds. */
function formatTime(time: Date): string {
  if (!(time instanceof Date) || Number.isNaN(time.getTime())) throw new CheckpointError("time must be a valid Date");
  const year = time.getUTCFullYear();
  if (year < 0 || year > 9999) throw new CheckpointError("time must be within years 0000-9999");
  return time.toISOString().replace(/\.000Z$/, "Z");
}

function parseTime(value: string): Date {
  const time = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{3})?Z$/.test(value)
    ? new Date(value)
    : new Date(Number.NaN);
  // Round-tripping rejects impossible dates (Feb 30) that Date would roll over, and non-canonical ".000".
  if (Number.isNaN(time.getTime()) || formatTime(time) !== value)
    throw new CheckpointError("time must be RFC 3339 UTC, e.g. 2025-01-02T03:04:05Z");
  return time;
}
