/**
 * Token buckets in memory, one per key (a credential or a client address): `perMinute` requests
 * in a burst, refilled at `perMinute` per minute. In memory on purpose: a database write per
 * request would cost more than the request. The limit holds per process and restarts empty.
 *
 * Memory is bounded: at `maxKeys` buckets, the full ones (idle for a minute or more, which is
 * the same as having none) are dropped; if that is not enough, the oldest are. An attacker who
 * cycles through addresses can therefore only reset buckets to full, never grow the map.
 */
interface Bucket {
  tokens: number;
  at: number;
}

export class TokenBuckets {
  readonly #buckets = new Map<string, Bucket>();
  readonly #perMs: number;

  constructor(
    private readonly perMinute: number,
    private readonly maxKeys = 100_000,
  ) {
    this.#perMs = perMinute / 60_000;
  }

  /** Spends one token and returns 0, or returns the whole seconds until one is back (nothing spent). */
  take(key: string, nowMs: number): number {
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      if (this.#buckets.size >= this.maxKeys) this.#evict(nowMs);
      bucket = { tokens: this.perMinute, at: nowMs };
      this.#buckets.set(key, bucket);
    } else {
      bucket.tokens = Math.min(this.perMinute, bucket.tokens + Math.max(0, nowMs - bucket.at) * this.#perMs);
      bucket.at = nowMs;
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.#perMs / 1000));
  }

  get size(): number {
    return this.#buckets.size;
  }

  #evict(nowMs: number): void {
    const fullAfterMs = 60_000;
    for (const [key, bucket] of this.#buckets) if (nowMs - bucket.at >= fullAfterMs) this.#buckets.delete(key);
    // Still full of recently used buckets: drop the oldest tenth (insertion order) rather than sweep on every request.
    if (this.#buckets.size >= this.maxKeys) {
      let drop = Math.max(1, Math.floor(this.maxKeys / 10));
      for (const key of this.#buckets.keys()) {
        if (drop-- <= 0) break;
        this.#buckets.delete(key);
      }
    }
  }
}
