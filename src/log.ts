/**
 * Structured JSON logs (pino), redacted by construction.
 *
 * Secrets never enter a log object: a line carries only the fields LogFields names, each of which
 * cannot hold one (the access line: request id, client address, method, path without the query
 * string, status, time; a failure: the error's name and message, never a stack, a request body or
 * headers), and the compiler refuses any other. There is no wildcard redaction: matching secret
 * names at every depth of every line cost ten times the rest of the line (bench/log.bench.ts).
 * What stays is a fixed list of top-level names, a net for a line that got past the compiler
 * (a cast), at no measurable cost; nested fields are not searched.
 */
import { pino, type DestinationStream } from "pino";
import type { LogLevel } from "./config.js";
import { bufferedLines } from "./log-buffer.js";

/** An error as a log line carries it: name and message, never a stack. */
export interface LoggedError {
  readonly name: string;
  readonly message: string;
}

/**
 * Every field a log line may carry, each naming something that is not a secret: the compiler
 * refuses any other (`log.info({ body })`, `log.info({ password })`). A new field is added here,
 * where a reviewer sees it, never as an object passed through from a request or a row.
 */
export interface LogFields {
  // The access line (src/server/middleware/access-log.ts) and the HTTP layer's refusals.
  readonly requestId?: string;
  readonly client?: string;
  readonly method?: string;
  /** The request path, never its query string. */
  readonly path?: string;
  readonly status?: number;
  readonly ms?: number;
  readonly problem?: string;
  /** A parser's or OpenSSL's error code or message, never request bytes. */
  readonly reason?: string;
  readonly error?: LoggedError;
  // A domain event, once it committed (src/audit/events.ts): names and ids, never its payload.
  readonly audit?: {
    readonly event: string;
    readonly tenantId: string | null;
    readonly actor: { readonly type: string; readonly id: string | null };
  };
  // Audit checkpoints and their anchors.
  readonly event?: string;
  readonly origin?: string;
  readonly size?: number;
  readonly tokenSize?: number;
  readonly rootHash?: string;
  readonly note?: string;
  readonly checkpoints?: number;
  readonly logs?: number;
  readonly failures?: number;
  readonly retryInMs?: number;
  readonly lost?: number;
  readonly queued?: number;
  readonly dropped?: number;
  // Certificates, keys and files, by their public identity or path (never their content).
  readonly trigger?: string;
  readonly subject?: string;
  /** A certificate's subject alternative names, as one line. */
  readonly names?: string;
  readonly validTo?: string;
  readonly fingerprint256?: string;
  readonly refused?: string;
  readonly serving?: string;
  readonly masterLabel?: string;
  readonly file?: string;
  readonly dir?: string;
  readonly cert?: string;
  readonly check?: string;
  // The server's start, jobs, licence, egress and shutdown.
  readonly url?: string;
  readonly redirect?: { readonly host: string; readonly port: number } | null;
  readonly clientCertificates?: string;
  readonly license?: string;
  readonly usageSnapshot?: string;
  readonly day?: string;
  readonly job?: string;
  readonly signal?: string;
  readonly purpose?: string;
  readonly host?: string;
}

interface LogMethod {
  (fields: LogFields, msg: string): void;
  (msg: string): void;
}

/** The logger the product uses: pino's, narrowed to lines built from LogFields. */
export interface Logger {
  readonly fatal: LogMethod;
  readonly error: LogMethod;
  readonly warn: LogMethod;
  readonly info: LogMethod;
  readonly debug: LogMethod;
  readonly trace: LogMethod;
}

/** Top-level field names whose values are always replaced (no wildcards: see above). */
export const SECRET_FIELDS: readonly string[] = [
  "password",
  "newPassword",
  "currentPassword",
  "token",
  "accessToken",
  "refreshToken",
  "setupToken",
  "resetToken",
  "secret",
  // A tenant secret's value travels in request bodies as `value` (docs/secrets.md).
  "value",
  "apiKey",
  "pin",
  "authorization",
  "cookie",
  "set-cookie",
  "masterKey",
  "key",
  "dek",
];

function quote(field: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(field) ? field : `["${field}"]`;
}

/** Where log lines go: the server logs to stdout (the journal); other commands to stderr, keeping stdout for their data. */
export type LogTarget = "stdout" | "stderr" | DestinationStream;

export function createLogger(level: LogLevel, target: LogTarget = "stdout"): Logger {
  return pino(
    {
      level,
      base: { service: "vecto" },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: SECRET_FIELDS.map(quote), censor: "[REDACTED]" },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination(target),
  );
}

function destination(target: LogTarget): DestinationStream {
  if (typeof target !== "string") return target;
  // The server's lines (stdout): one write per turn of the event loop (log-buffer.ts says what a crash can lose).
  // A command's (stderr): as they come, the process is short-lived.
  return target === "stdout" ? bufferedLines(1) : pino.destination({ fd: 2, sync: true });
}
