/**
 * Structured JSON logs (pino) with redaction.
 *
 * Secrets must never reach a log. Redaction is the safety net; the first rule is that code does
 * not put secrets in log objects at all (request logs carry method, path without query, status).
 */
import { pino, type DestinationStream, type Logger } from "pino";
import type { LogLevel } from "./config.js";

export type { Logger } from "pino";

/** Field names whose values are always replaced, at any of the first three levels of a log object. */
const SECRET_FIELDS = [
  "password",
  "newPassword",
  "currentPassword",
  "token",
  "accessToken",
  "refreshToken",
  "setupToken",
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

function redactPaths(): string[] {
  return SECRET_FIELDS.flatMap((field) => [`${quote(field)}`, `*.${quote(field)}`, `*.*.${quote(field)}`]);
}

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
      redact: { paths: redactPaths(), censor: "[REDACTED]" },
      formatters: { level: (label) => ({ level: label }) },
    },
    typeof target === "string" ? pino.destination({ fd: target === "stdout" ? 1 : 2, sync: true }) : target,
  );
}
