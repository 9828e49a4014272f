/**
 * What an error thrown below a route becomes for the client: a DomainError by its kind, an
 * unavailability by its kind, a provider failure of a language model by its failure (502, 503
 * naming the address, 504, 409), a Hono HTTPException by its status. Anything else is not mapped
 * here: the app answers 500 and logs it. Used by the app's error handler and by streamed answers
 * that must turn a failure after the first byte into a problem line (src/server/ndjson.ts).
 */
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { ProviderError, type ProviderFailure } from "../ai/providers/provider.js";
import { DomainError, unavailableKind, type DomainErrorKind, type UnavailableKind } from "../errors.js";
import { ProblemError, type ProblemKind } from "./problem.js";

const DOMAIN_STATUS: Record<DomainErrorKind, [ContentfulStatusCode, ProblemKind]> = {
  "invalid-credentials": [401, "unauthorized"],
  throttled: [429, "too-many-requests"],
  forbidden: [403, "forbidden"],
  "not-found": [404, "not-found"],
  conflict: [409, "conflict"],
  "precondition-failed": [412, "precondition-failed"],
  "precondition-required": [428, "precondition-required"],
  rejected: [422, "rejected"],
  "signature-required": [403, "signature-required"],
  "separation-of-duties": [403, "separation-of-duties"],
  // 402, not 403: the caller's rights are fine, the installation's entitlement is not (docs/licensing.md).
  "license-limit": [402, "license-limit"],
  "license-read-only": [402, "license-read-only"],
};

// Fail closed: without its key (master key not loaded, wrap not opening, no usable version) a tenant's data is neither read nor written; the client may retry.
// A retired master key's label stays in the log (onError), as for every keys-unavailable answer; the client learns the cause.
const UNAVAILABLE_PROBLEM: Record<UnavailableKind, () => ProblemError> = {
  "keys-unavailable": () =>
    new ProblemError(
      503,
      "keys-unavailable",
      "the encryption keys for this data are unavailable; nothing was read or written",
      { retryAfterSeconds: 30 },
    ),
  "master-key-retired": () =>
    new ProblemError(
      503,
      "keys-unavailable",
      "this server's master key was retired: it cannot create a data key; restart it with the current configuration; nothing was written",
      { retryAfterSeconds: 30 },
    ),
  "storage-full": () =>
    new ProblemError(
      507,
      "storage-full",
      "the appliance's storage is full: the change was not stored; retry once space has been freed",
      { retryAfterSeconds: 60 },
    ),
  // Fail-stop: after a failed fsync nothing is acknowledged until a restart recovers from the disk (wal-sync.ts).
  "storage-failed": () =>
    new ProblemError(
      503,
      "storage-failed",
      "the appliance's storage failed to make a change durable; it was not acknowledged; the appliance must be restarted",
      { retryAfterSeconds: 60 },
    ),
};

// A language model's provider failed or may not be called: the gateway's statuses, and 409 for a refusal by configuration.
const PROVIDER_STATUS: Record<ProviderFailure, [ContentfulStatusCode, ProblemKind]> = {
  unreachable: [503, "ai-provider-unavailable"],
  timeout: [504, "ai-provider-timeout"],
  failed: [502, "ai-provider-failed"],
  refused: [409, "ai-provider-refused"],
};

export function toProblem(error: unknown): ProblemError | undefined {
  if (error instanceof ProblemError) return error;
  if (error instanceof DomainError) {
    const [status, kind] = DOMAIN_STATUS[error.kind];
    return new ProblemError(status, kind, error.message, error.details);
  }
  if (error instanceof ProviderError) {
    const [status, kind] = PROVIDER_STATUS[error.failure];
    return new ProblemError(status, kind, error.message, { provider: error.provider });
  }
  const unavailable = unavailableKind(error);
  if (unavailable !== undefined) return UNAVAILABLE_PROBLEM[unavailable]();
  if (error instanceof HTTPException) {
    const status = error.status;
    if (status === 413) return new ProblemError(413, "payload-too-large");
    if (status >= 400 && status < 500) return new ProblemError(status, "bad-request", error.message || undefined);
  }
  return undefined;
}
