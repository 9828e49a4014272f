/**
 * autocannon as the benches use it, typed here once: it ships no type declarations, and this is
 * the part of its API the HTTP benches call (bench/identity.bench.ts, bench/http/load.ts).
 */
import { createRequire } from "node:module";

export interface Histogram {
  readonly average: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

export interface AutocannonResult {
  readonly requests: Histogram & { readonly total: number };
  readonly latency: Histogram;
  readonly duration: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly non2xx: number;
  readonly "2xx": number;
}

export interface AutocannonRequest {
  readonly method: string;
  readonly path: string;
  readonly body?: string;
  readonly setupRequest?: (request: AutocannonRequest) => AutocannonRequest;
}

export interface AutocannonOptions {
  readonly url: string;
  readonly method: "GET" | "POST";
  readonly headers?: Readonly<Record<string, string>>;
  readonly requests?: readonly AutocannonRequest[];
  readonly connections: number;
  readonly duration: number;
  readonly pipelining?: number;
  readonly workers?: number;
  readonly warmup?: { readonly connections: number; readonly duration: number };
  readonly tlsOptions?: { readonly rejectUnauthorized: boolean; readonly minVersion: "TLSv1.3" };
}

export const autocannon = createRequire(import.meta.url)("autocannon") as (
  options: AutocannonOptions,
) => Promise<AutocannonResult>;
