/**
 * At most `limit` tasks at once; the others wait their turn in arrival order. Used to keep argon2
 * below the size of libuv's thread pool (src/auth/passwords.ts).
 */
export class Semaphore {
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError("a semaphore needs a limit of at least 1");
  }

  /** Tasks started and not yet finished (at most `limit`). */
  get running(): number {
    return this.#running;
  }

  /** Tasks waiting for a slot. */
  get waiting(): number {
    return this.#waiting.length;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    await this.#acquire();
    try {
      return await task();
    } finally {
      this.#release();
    }
  }

  #acquire(): Promise<void> | undefined {
    if (this.#running < this.limit) {
      this.#running += 1;
      return undefined;
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  /** A finished task hands its slot straight to the next waiting one, so none can overtake the queue. */
  #release(): void {
    const next = this.#waiting.shift();
    if (next === undefined) this.#running -= 1;
    else next();
  }
}
