/** Number helpers the benchmarks share. */

export function round(n: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** Nearest-rank percentile of ascending samples (p in 0..1). */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? Number.NaN;
}

/** Latency of one side of a paired measurement. `writes` is the number of timed calls (the name predates reads). */
export interface Stats {
  readonly writes: number;
  readonly opsPerSec: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** Nearest-rank percentiles; ops/s from the summed time of the timed calls (no gaps between blocks). */
export function stats(samples: readonly number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number): number => percentile(sorted, p);
  const total = sorted.reduce((s, x) => s + x, 0);
  return {
    writes: sorted.length,
    opsPerSec: round((sorted.length * 1000) / total, 1),
    meanMs: round(total / sorted.length),
    p50Ms: round(at(0.5)),
    p99Ms: round(at(0.99)),
    maxMs: round(sorted.at(-1) ?? NaN),
  };
}

/**
 * Runs `warmup` untimed then `calls` timed calls of each side, alternating blocks of `block`, so
 * that whatever else the machine does in the meantime falls on both sides alike.
 */
export async function pair(
  a: () => Promise<void>,
  b: () => Promise<void>,
  calls: number,
  warmup: number,
  block: number,
): Promise<{ a: Stats; b: Stats }> {
  for (let i = 0; i < warmup; i++) {
    await a();
    await b();
  }
  const ta: number[] = [];
  const tb: number[] = [];
  const timed = async (fn: () => Promise<void>, into: number[]): Promise<void> => {
    for (let i = 0; i < block && into.length < calls; i++) {
      const t0 = performance.now();
      await fn();
      into.push(performance.now() - t0);
    }
  };
  for (let turn = 0; ta.length < calls || tb.length < calls; turn++) {
    // Swap which side goes first every other round, so neither always follows the other.
    if (turn % 2 === 0) {
      await timed(a, ta);
      await timed(b, tb);
    } else {
      await timed(b, tb);
      await timed(a, ta);
    }
  }
  return { a: stats(ta), b: stats(tb) };
}
