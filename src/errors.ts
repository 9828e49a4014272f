/**
 * Errors a domain module raises for the caller to act on. They carry a kind, not an HTTP status:
 * the server maps kinds to problem responses (src/server/app.ts), the CLI prints the message.
 * Messages are safe to show: no secrets, no SQL, no internals.
 */
export type DomainErrorKind =
  | "invalid-credentials"
  | "throttled"
  | "forbidden"
  | "not-found"
  | "conflict"
  | "precondition-failed" // If-Match named a version that is no longer current
  | "precondition-required" // a change that needs If-Match came without it
  | "rejected" // well-formed input that a rule refuses (password policy, limits)
  | "signature-required" // a critical sign-off attempted without the signed approval it needs (docs/signing.md)
  | "separation-of-duties" // an agent, or the author of what is approved, attempting a sign-off
  | "license-limit" // creating this would exceed a limit of the license (tenants, users, agents)
  | "license-read-only"; // the license expired after its grace period: changes wait for a renewed license

export class DomainError extends Error {
  override readonly name = "DomainError";
  constructor(
    readonly kind: DomainErrorKind,
    message: string,
    readonly details: Readonly<Record<string, string | number>> = {},
  ) {
    super(message);
  }
}

/**
 * Failures that are the appliance's, not the request's, and pass with time: the keys for the data
 * cannot be had (master key not loaded, a wrap that does not open, no usable data key), this
 * process's master key was retired under it, or the disk is full. They arise below the domain,
 * in src/crypto and src/db, whose error classes carry the kind as `unavailable`; the server maps
 * each kind to its problem (src/server/app.ts) without knowing those classes, the CLI prints the
 * message. Nothing was written when one is thrown.
 */
export type UnavailableKind = "keys-unavailable" | "master-key-retired" | "storage-full" | "storage-failed";

/** What an error class of src/crypto or src/db declares to be recognised as one of these failures. */
export interface Unavailable {
  readonly unavailable: UnavailableKind;
}

const UNAVAILABLE_KINDS: ReadonlySet<unknown> = new Set<UnavailableKind>([
  "keys-unavailable",
  "master-key-retired",
  "storage-full",
  "storage-failed",
]);

/** The kind of an unavailability failure, or undefined for any other error. */
export function unavailableKind(error: unknown): UnavailableKind | undefined {
  if (!(error instanceof Error) || !("unavailable" in error) || !UNAVAILABLE_KINDS.has(error.unavailable))
    return undefined;
  return error.unavailable as UnavailableKind;
}
