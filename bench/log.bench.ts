/**
 * What a log line costs, by redaction: the wildcard paths used until issue 15 (every secret name
 * at the first three levels of every line), the fixed top-level list src/log.ts keeps as a net,
 * and none. The line is the access line every request writes (src/server/middleware/access-log.ts),
 * written by the product's own logger settings to a stream that discards it, so the figure is
 * pino's work (redaction, serialisation) and not the disk's. Sides interleaved in blocks.
 */
import { Writable } from "node:stream";
import { pino } from "pino";
import { createLogger, SECRET_FIELDS, type LogFields, type Logger } from "../src/log.js";
import { round } from "./stats.js";

const LINES_PER_BLOCK = 5_000;
const BLOCKS = 40;
const WARMUP_BLOCKS = 4;

function discard(): Writable {
  return new Writable({ write: (_chunk, _enc, done) => done() });
}

function quote(field: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(field) ? field : `["${field}"]`;
}

/** The settings of src/log.ts with another redaction. */
function logger(redact: string[] | undefined): Logger {
  return pino(
    {
      level: "info",
      base: { service: "vecto" },
      timestamp: pino.stdTimeFunctions.isoTime,
      ...(redact ? { redact: { paths: redact, censor: "[REDACTED]" } } : {}),
      formatters: { level: (label) => ({ level: label }) },
    },
    discard(),
  );
}

function accessLine(i: number): LogFields {
  return {
    requestId: "0f8e7d6c-5b4a-3928-1716-151413121110",
    client: "192.0.2.10",
    method: "POST",
    path: "/api/projects/01JABCDEFGHJKMNPQRSTVWXYZ0/nodes",
    status: 201,
    ms: i % 100,
  };
}

function block(log: Logger): number {
  const started = process.hrtime.bigint();
  for (let i = 0; i < LINES_PER_BLOCK; i++) log.info(accessLine(i), "request");
  return Number(process.hrtime.bigint() - started) / LINES_PER_BLOCK;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

export function run(): Promise<Record<string, unknown>> {
  const sides: Record<string, Logger> = {
    "wildcard paths (until issue 15)": logger(
      SECRET_FIELDS.flatMap((f) => [quote(f), `*.${quote(f)}`, `*.*.${quote(f)}`]),
    ),
    "fixed top-level list (src/log.ts)": createLogger("info", discard()),
    "no redaction": logger(undefined),
  };
  const ns: Record<string, number[]> = Object.fromEntries(Object.keys(sides).map((k) => [k, []]));
  const names = Object.keys(sides);
  for (let b = 0; b < WARMUP_BLOCKS + BLOCKS; b++) {
    // Rotate which side goes first.
    for (let k = 0; k < names.length; k++) {
      const name = names[(b + k) % names.length] ?? "";
      const cost = block(sides[name] as Logger);
      if (b >= WARMUP_BLOCKS) ns[name]?.push(cost);
    }
  }
  const none = median(ns["no redaction"] ?? []);
  return Promise.resolve({
    summary: names.map((label) => ({
      label,
      "ns per line (median)": Math.round(median(ns[label] ?? [])),
      "× no redaction": round(median(ns[label] ?? []) / none, 2),
    })),
  });
}
