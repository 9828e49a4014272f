/**
 * Structured JSON logs (pino), redacted by construction.
 *
 * Secrets never enter a log object: every line is built from named fields that cannot hold one
 * (the access line: request id, client address, method, path without the query string, status,
 * time; a failure: the error's name and message, never a stack, a request body or headers).
 * There is no wildcard redaction: matching secret names at every depth of every line cost
 * ~60 µs a line, more than the rest of the line (bench/log.bench.ts). What stays is a fixed list
 * of top-level names, a net for a careless `log.info({ password })` that costs nothing measurable;
 * nested fields are not searched, so the rule above is what keeps them clean.
 */
import { pino, type DestinationStream, type Logger } from "pino";
import type { LogLevel } from "./config.js";

export type { Logger } from "pino";

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
    typeof target === "string" ? pino.destination({ fd: target === "stdout" ? 1 : 2, sync: true }) : target,
  );
}
