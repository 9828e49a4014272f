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
