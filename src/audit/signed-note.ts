/**
 * C2SP signed notes (https://c2sp.org/signed-note, born as golang.org/x/mod/sumdb/note) with
 * Ed25519 keys: a UTF-8 text ending in a newline, a blank line, then one line per signature,
 * `— <key name> base64(key ID || signature)`. The format is what lets a third party holding only
 * the verifier key check our audit checkpoints offline with stock tooling (Go's note package,
 * transparency-dev, sigsum), so parsing follows Go's rules and is, where noted, stricter.
 *
 * Ed25519 itself is src/crypto's (one module for notes, licenses and usage reports): a note signer
 * wraps an Ed25519Signer handle, which never reveals its private key. This module never sees a
 * private key or seed: the appliance's own key reaches it only as such a handle (CryptoService.signer),
 * and Go's `PRIVATE+KEY+…` signer-key strings are not read or written here at all.
 */
import { createHash } from "node:crypto";
import {
  decodeBase64Strict,
  ED25519_PUBLIC_KEY_BYTES,
  generateEd25519Signer,
  verifyEd25519,
  type Ed25519Signer,
} from "../crypto/index.js";

export { decodeBase64Strict, ED25519_PUBLIC_KEY_BYTES };

/** Signature type byte for Ed25519 in key IDs and encoded keys (signed-note, "Signature types"). */
export const ED25519_SIGNATURE_TYPE = 0x01;
/** Go's limit; the spec asks verifiers to accept at least 16 and to bound the work somehow. */
export const MAX_SIGNATURES = 100;

const SIGNATURE_PREFIX = "\u2014 "; // em dash, space

export type SignedNoteErrorCode =
  | "malformed-note" // not a signed note at all (syntax, encoding, too many signatures)
  | "malformed-key" // a verifier key string, name or public key of the wrong shape
  | "invalid-signature" // a known key's signature does not verify: the note was altered
  | "unverified-note" // well-formed, but no signature by any of the given keys
  | "ambiguous-key"; // two given verifiers share name and key ID: the key list is wrong

/** Messages name keys by `name+keyid` (public) and never quote key material or note text. */
export class SignedNoteError extends Error {
  override readonly name = "SignedNoteError";
  constructor(
    readonly code: SignedNoteErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface NoteSigner {
  readonly name: string;
  readonly keyId: number;
  /** Ed25519 signature (64 bytes) over message. */
  sign(message: Uint8Array): Uint8Array;
}

export interface NoteVerifier {
  readonly name: string;
  readonly keyId: number;
  readonly publicKey: Uint8Array;
  verify(message: Uint8Array, signature: Uint8Array): boolean;
}

export interface NewKeyPair {
  readonly name: string;
  readonly publicKey: Uint8Array;
  /** `<name>+<keyid>+<base64(0x01 || public key)>`, for whoever verifies. */
  readonly verifierKey: string;
  /** The only way to the private key, which never leaves src/crypto. */
  readonly signer: NoteSigner;
}

export interface SignatureId {
  readonly name: string;
  readonly keyId: number;
}

export interface OpenedNote {
  /** The signed text, including its final newline. */
  readonly text: string;
  /** Keys whose signature verified, each once, in note order. Never empty. */
  readonly verifiedBy: readonly SignatureId[];
  /** Signatures by keys not given to open(): ignored, as the spec requires (witnesses, rotated keys). */
  readonly unverified: readonly SignatureId[];
}

/** Key names: non-empty, no Unicode spaces, no "+" (spec); no control characters (they cannot appear in a note). */
export function isValidKeyName(name: string): boolean {
  return (
    name !== "" && isWellFormed(name) && !hasControlCharacter(name, false) && !/[\p{White_Space}+\u007f]/u.test(name)
  );
}

/** First four bytes, big-endian, of SHA-256(name || "\n" || 0x01 || public key). */
export function keyIdFor(name: string, publicKey: Uint8Array): number {
  requireName(name);
  requireLength(publicKey, ED25519_PUBLIC_KEY_BYTES, "public key");
  return computeKeyId(name, publicKey);
}

export function formatKeyId(keyId: number): string {
  return keyId.toString(16).padStart(8, "0");
}

/** A fresh key pair held as a handle (an impostor in tests, a witness): nothing here can export it. */
export function newKeyPair(name: string): NewKeyPair {
  requireName(name);
  const key = generateEd25519Signer();
  const publicKey = key.publicKey;
  return { name, publicKey, verifierKey: formatVerifierKey(name, publicKey), signer: noteSigner(name, key) };
}

/** The note signer `name` for an Ed25519 key handle (e.g. the installation's, CryptoService.signer). */
export function noteSigner(name: string, signer: Ed25519Signer): NoteSigner {
  requireName(name);
  return {
    name,
    keyId: computeKeyId(name, signer.publicKey),
    sign: (message: Uint8Array): Uint8Array => signer.sign(message),
  };
}

export function formatVerifierKey(name: string, publicKey: Uint8Array): string {
  const keyId = keyIdFor(name, publicKey);
  return `${name}+${formatKeyId(keyId)}+${encodeTypedKey(publicKey)}`;
}

/** Go's NewVerifier: `<name>+<8 hex digits>+<base64(0x01 || 32-byte public key)>`, key ID checked. */
export function parseVerifierKey(verifierKey: string): NoteVerifier {
  const parts = splitKey(verifierKey, 3);
  const [name, keyIdHex, keyB64] = parts ?? [];
  if (name === undefined || keyIdHex === undefined || keyB64 === undefined) throw badKey("verifier key");
  const keyId = parseKeyIdHex(keyIdHex);
  const publicKey = decodeTypedKey(keyB64, ED25519_PUBLIC_KEY_BYTES);
  if (!isValidKeyName(name) || keyId === null || publicKey === null) throw badKey("verifier key");
  if (computeKeyId(name, publicKey) !== keyId) throw badKey("verifier key (key ID does not match name and key)");
  return makeVerifier(name, keyId, publicKey);
}

/** Signs text (which must end in a newline) with one or more keys; returns the whole note. */
export function sign(text: string, signer: NoteSigner, ...more: NoteSigner[]): string {
  requireNoteText(text);
  const signers = [signer, ...more];
  if (signers.length > MAX_SIGNATURES) throw new SignedNoteError("malformed-note", "too many signers");
  const message = new TextEncoder().encode(text);
  const seen = new Set<string>();
  const lines = signers.map((s) => {
    if (!isValidKeyName(s.name)) throw new SignedNoteError("malformed-key", "invalid signer name");
    const id = idString(s.name, s.keyId);
    if (seen.has(id)) throw new SignedNoteError("ambiguous-key", `signer ${id} given twice`);
    seen.add(id);
    return signatureLine(s, message);
  });
  return `${text}\n${lines.join("")}`;
}

/**
 * Parses a signed note and checks it against the given verifiers. Signatures by unknown keys are
 * ignored (spec: MUST ignore); every signature by a known key must verify, and at least one must.
 */
export function open(note: string | Uint8Array, verifiers: readonly NoteVerifier[]): OpenedNote {
  const parsed = parseNote(decodeNote(note));
  const byId = indexVerifiers(verifiers);
  const message = new TextEncoder().encode(parsed.text);
  const verifiedBy: SignatureId[] = [];
  const unverified: SignatureId[] = [];
  for (const sig of parsed.signatures) {
    const id = idString(sig.name, sig.keyId);
    const candidates = byId.get(id);
    if (candidates === undefined) {
      if (!unverified.some((u) => idString(u.name, u.keyId) === id))
        unverified.push({ name: sig.name, keyId: sig.keyId });
      continue;
    }
    if (candidates.length > 1) throw new SignedNoteError("ambiguous-key", `ambiguous key ${id}`);
    // Unlike Go, which skips repeats, every signature by a known key is checked (spec: MUST verify).
    if (!candidates[0]?.verify(message, sig.signature))
      throw new SignedNoteError("invalid-signature", `invalid signature for key ${id}`);
    if (!verifiedBy.some((v) => idString(v.name, v.keyId) === id))
      verifiedBy.push({ name: sig.name, keyId: sig.keyId });
  }
  if (verifiedBy.length === 0) throw new SignedNoteError("unverified-note", "note has no verifiable signatures");
  return { text: parsed.text, verifiedBy, unverified };
}

// --- note syntax -------------------------------------------------------------------------------

interface ParsedSignature {
  readonly name: string;
  readonly keyId: number;
  readonly signature: Uint8Array;
}

function decodeNote(note: string | Uint8Array): string {
  if (typeof note === "string") {
    if (!isWellFormed(note)) throw malformed();
    return note;
  }
  try {
    // fatal: invalid UTF-8 is refused, not silently replaced by U+FFFD (which would change what was signed).
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(note);
  } catch {
    throw malformed();
  }
}

function parseNote(note: string): { text: string; signatures: ParsedSignature[] } {
  if (hasControlCharacter(note, true)) throw malformed();
  // The text may hold blank lines itself: the signatures start after the last one.
  const split = note.lastIndexOf("\n\n");
  if (split < 0) throw malformed();
  const text = note.slice(0, split + 1);
  const block = note.slice(split + 2);
  if (!block.endsWith("\n")) throw malformed();
  const lines = block.slice(0, -1).split("\n");
  if (lines.length > MAX_SIGNATURES) throw malformed();
  return { text, signatures: lines.map(parseSignatureLine) };
}

function parseSignatureLine(line: string): ParsedSignature {
  if (!line.startsWith(SIGNATURE_PREFIX)) throw malformed();
  const rest = line.slice(SIGNATURE_PREFIX.length);
  const space = rest.indexOf(" ");
  if (space < 0) throw malformed();
  const name = rest.slice(0, space);
  const bytes = decodeBase64Strict(rest.slice(space + 1));
  if (!isValidKeyName(name) || bytes === null || bytes.length < 5) throw malformed();
  const keyId = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, false);
  return { name, keyId, signature: bytes.subarray(4) };
}

function signatureLine(signer: NoteSigner, message: Uint8Array): string {
  const signature = signer.sign(message);
  const bytes = new Uint8Array(4 + signature.length);
  new DataView(bytes.buffer).setUint32(0, signer.keyId >>> 0, false);
  bytes.set(signature, 4);
  return `${SIGNATURE_PREFIX}${signer.name} ${Buffer.from(bytes).toString("base64")}\n`;
}

function requireNoteText(text: string): void {
  // What open() would refuse must not be signed in the first place.
  if (!text.endsWith("\n") || !isWellFormed(text) || hasControlCharacter(text, true)) {
    throw new SignedNoteError(
      "malformed-note",
      "note text must be UTF-8 without control characters and end in a newline",
    );
  }
}

// --- keys --------------------------------------------------------------------------------------

function computeKeyId(name: string, publicKey: Uint8Array): number {
  const digest = createHash("sha256")
    .update(name, "utf8")
    .update("\n")
    .update(Uint8Array.of(ED25519_SIGNATURE_TYPE))
    .update(publicKey)
    .digest();
  return digest.readUInt32BE(0);
}

function makeVerifier(name: string, keyId: number, publicKey: Uint8Array): NoteVerifier {
  const key = publicKey.slice();
  return {
    name,
    keyId,
    publicKey: publicKey.slice(),
    verify: (message: Uint8Array, signature: Uint8Array): boolean => verifyEd25519(key, message, signature),
  };
}

function encodeTypedKey(key: Uint8Array): string {
  const typed = Buffer.alloc(1 + key.length);
  typed[0] = ED25519_SIGNATURE_TYPE;
  typed.set(key, 1);
  const encoded = typed.toString("base64");
  typed.fill(0);
  return encoded;
}

/** base64(0x01 || key) → key, or null for another algorithm or length. */
function decodeTypedKey(encoded: string, length: number): Uint8Array | null {
  const bytes = decodeBase64Strict(encoded);
  if (bytes === null) return null;
  const ok = bytes.length === 1 + length && bytes[0] === ED25519_SIGNATURE_TYPE;
  const key = ok ? bytes.slice(1) : null;
  bytes.fill(0);
  return key;
}

/** Splits at the first count-1 "+" only: the base64 part may itself contain "+". */
function splitKey(key: string, count: number): string[] | null {
  const parts: string[] = [];
  let rest = key;
  for (let i = 1; i < count; i++) {
    const plus = rest.indexOf("+");
    if (plus < 0) return null;
    parts.push(rest.slice(0, plus));
    rest = rest.slice(plus + 1);
  }
  parts.push(rest);
  return parts;
}

function parseKeyIdHex(hex: string): number | null {
  return /^[0-9a-fA-F]{8}$/.test(hex) ? Number.parseInt(hex, 16) : null;
}

function indexVerifiers(verifiers: readonly NoteVerifier[]): Map<string, NoteVerifier[]> {
  const byId = new Map<string, NoteVerifier[]>();
  for (const v of verifiers) {
    const id = idString(v.name, v.keyId);
    byId.set(id, [...(byId.get(id) ?? []), v]);
  }
  return byId;
}

// --- small helpers -----------------------------------------------------------------------------

/** ASCII control characters below U+0020 (the note's rule; DEL is allowed there, as in Go). */
export function hasControlCharacter(s: string, allowNewline: boolean): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 && !(allowNewline && c === 0x0a)) return true;
  }
  return false;
}

/** Lone surrogates have no UTF-8 encoding (String.prototype.isWellFormed is not in our ES2023 lib). */
function isWellFormed(s: string): boolean {
  return !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);
}

function idString(name: string, keyId: number): string {
  return `${name}+${formatKeyId(keyId)}`;
}

function requireName(name: string): void {
  if (!isValidKeyName(name))
    throw new SignedNoteError(
      "malformed-key",
      "invalid key name: it must be non-empty, without spaces, '+' or control characters",
    );
}

function requireLength(bytes: Uint8Array, length: number, what: string): void {
  if (!(bytes instanceof Uint8Array) || bytes.length !== length)
    throw new SignedNoteError("malformed-key", `${what} must be ${length} bytes`);
}

function badKey(what: string): SignedNoteError {
  return new SignedNoteError("malformed-key", `malformed ${what}`);
}

function malformed(): SignedNoteError {
  return new SignedNoteError("malformed-note", "malformed note");
}
