/**
 * RFC 9457 problem details: the one error shape of the API.
 *
 * `type` is a stable URN per kind of problem (listed in docs/problems.md); `detail` says what
 * was wrong in words safe to show a client: never a stack trace, SQL or key material.
 */
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

export type ProblemKind =
  | "bad-request"
  | "malformed-json"
  | "unsupported-media-type"
  | "payload-too-large"
  | "validation-failed"
  | "not-found"
  | "method-not-allowed"
  | "request-timeout"
  | "expectation-failed"
  | "unauthorized"
  | "forbidden"
  | "conflict"
  | "too-many-requests"
  | "headers-too-large"
  | "precondition-failed"
  | "precondition-required"
  | "rejected"
  | "signature-required"
  | "separation-of-duties"
  | "license-limit"
  | "license-read-only"
  | "not-ready"
  | "keys-unavailable"
  | "storage-full"
  | "storage-failed"
  | "ai-provider-unavailable"
  | "ai-provider-timeout"
  | "ai-provider-failed"
  | "ai-provider-refused"
  | "internal-error";

export interface ProblemBody {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail?: string;
  readonly instance?: string;
  readonly [extension: string]: unknown;
}

const TITLES: Record<ProblemKind, string> = {
  "bad-request": "Bad request",
  "malformed-json": "Malformed JSON body",
  "unsupported-media-type": "Unsupported media type",
  "payload-too-large": "Payload too large",
  "validation-failed": "Validation failed",
  "not-found": "Not found",
  "method-not-allowed": "Method not allowed",
  "request-timeout": "Request timeout",
  "expectation-failed": "Expectation failed",
  unauthorized: "Authentication required",
  forbidden: "Forbidden",
  conflict: "Conflict",
  "too-many-requests": "Too many requests",
  "headers-too-large": "Request header fields too large",
  "precondition-failed": "Precondition failed",
  "precondition-required": "Precondition required",
  rejected: "Request refused by policy",
  "signature-required": "Signed approval required",
  "separation-of-duties": "Separation of duties",
  "license-limit": "License limit reached",
  "license-read-only": "License expired: read-only",
  "not-ready": "Service not ready",
  "keys-unavailable": "Encryption keys unavailable",
  "storage-full": "Storage full",
  "storage-failed": "Storage failed",
  "ai-provider-unavailable": "Language model unavailable",
  "ai-provider-timeout": "Language model timed out",
  "ai-provider-failed": "Language model failed",
  "ai-provider-refused": "Language model provider refused by configuration",
  "internal-error": "Internal server error",
};

export function problemType(kind: ProblemKind): string {
  return `urn:vecto:problem:${kind}`;
}

/** Thrown anywhere below a route; the app's error handler turns it into a problem response. */
export class ProblemError extends Error {
  override readonly name = "ProblemError";
  constructor(
    readonly status: ContentfulStatusCode,
    readonly kind: ProblemKind,
    readonly detail?: string,
    readonly extensions: Readonly<Record<string, unknown>> = {},
  ) {
    super(detail ?? TITLES[kind]);
  }
}

export function problemBody(
  status: number,
  kind: ProblemKind,
  detail?: string,
  extensions: Record<string, unknown> = {},
): ProblemBody {
  return { type: problemType(kind), title: TITLES[kind], status, ...(detail ? { detail } : {}), ...extensions };
}

export function problemResponse(c: Context, error: ProblemError): Response {
  const requestId = c.get("requestId");
  const body = problemBody(error.status, error.kind, error.detail, {
    ...error.extensions,
    ...(requestId ? { requestId } : {}),
  });
  const headers: Record<string, string> = { "Content-Type": PROBLEM_CONTENT_TYPE };
  const retryAfter = error.extensions.retryAfterSeconds;
  if (typeof retryAfter === "number") headers["Retry-After"] = String(retryAfter);
  if (error.status === 401) headers["WWW-Authenticate"] = 'Bearer realm="vecto"';
  return c.body(JSON.stringify(body), error.status, headers);
}
