/**
 * AES-256-GCM seal+open throughput, node:crypto vs @noble/ciphers, same run, same inputs.
 * One "op" = seal then open of one payload; MB/s counts the payload once per op (10^6 bytes).
 */
import { randomBytes } from "node:crypto";
import type { Aead } from "../src/crypto/aead.js";
import { nobleAead } from "../src/crypto/aead-noble.js";
import { nodeAead } from "../src/crypto/aead-node.js";
import { round } from "./stats.js";

const SIZES = [
  { label: "64 B", bytes: 64 },
  { label: "1 KiB", bytes: 1024 },
  { label: "64 KiB", bytes: 64 * 1024 },
] as const;
const WARMUP_MS = 200;
const MEASURE_MS = 1200;

interface Measurement {
  impl: string;
  size: string;
  ops: number;
  opsPerSec: number;
  mbPerSec: number;
}

/** Runs seal+open pairs for at least `ms`, checking the timer every batch to keep its cost out. */
function loop(impl: Aead, payload: Uint8Array, ms: number): { ops: number; elapsed: number } {
  const key = randomBytes(32);
  const nonce = randomBytes(12);
  const aad = randomBytes(32);
  const batch = payload.length >= 65536 ? 4 : 64;
  let ops = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < ms) {
    for (let i = 0; i < batch; i++) impl.open(key, nonce, impl.seal(key, nonce, payload, aad), aad);
    ops += batch;
    elapsed = performance.now() - start;
  }
  return { ops, elapsed };
}

function measure(impl: Aead, size: (typeof SIZES)[number]): Measurement {
  const payload = randomBytes(size.bytes);
  loop(impl, payload, WARMUP_MS);
  const { ops, elapsed } = loop(impl, payload, MEASURE_MS);
  const opsPerSec = (ops * 1000) / elapsed;
  return { impl: impl.name, size: size.label, ops, opsPerSec, mbPerSec: (opsPerSec * size.bytes) / 1e6 };
}

export async function run(): Promise<Record<string, unknown>> {
  const measurements: Measurement[] = [];
  const summary: Record<string, string | number>[] = [];
  for (const size of SIZES) {
    const node = measure(nodeAead, size);
    const noble = measure(nobleAead, size);
    measurements.push(node, noble);
    summary.push({
      size: size.label,
      "node ops/s": Math.round(node.opsPerSec),
      "node MB/s": round(node.mbPerSec, 1),
      "noble ops/s": Math.round(noble.opsPerSec),
      "noble MB/s": round(noble.mbPerSec, 1),
      "node/noble": round(node.opsPerSec / noble.opsPerSec, 2),
    });
  }
  return { unit: "one op = seal + open of one payload; MB = 10^6 payload bytes", measurements, summary };
}
