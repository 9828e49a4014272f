/**
 * Checkpoints as the logs grow. After each commit the event sink says which log got new events
 * (`grew`); the checkpointer then signs, stores and anchors a checkpoint of those logs: on the
 * next turn of the event loop when a log was quiet, at most once a second per log under load, so
 * no acknowledged event waits for the five-minute job, and a burst of writes costs a handful of
 * checkpoints rather than one each. Runs never overlap. A failed run (disk full, keys unavailable)
 * never reaches the request that wrote the event, which was acknowledged already: it is logged,
 * and its logs are tried again after a pause that doubles up to a minute. `stop` checkpoints what
 * is pending before the database closes.
 *
 * Only `vecto serve` starts it; until then `grew` records nothing (one-shot CLI commands leave
 * their events to the running server's next checkpoint of the log, or to the job).
 */
import type { Logger } from "../log.js";

export interface CheckpointerOptions {
  /** The least time between two checkpoint runs of one log, in ms (1000). */
  readonly intervalMs?: number;
  /** The longest pause after failed runs, in ms (60 000). */
  readonly maxRetryMs?: number;
}

/** Makes checkpoints of the given logs (makeCheckpoints); resolves to how many it made. */
export type CheckpointRun = (logs: readonly string[]) => Promise<number>;

export interface CheckpointerStatus {
  readonly pendingLogs: number;
  /** Runs made since start, and checkpoints they signed. */
  readonly runs: number;
  readonly checkpoints: number;
  /** The last run's failure, while runs keep failing; null once one succeeds. */
  readonly failing: string | null;
}

export class Checkpointer {
  readonly #run: CheckpointRun;
  readonly #log: Pick<Logger, "info" | "error">;
  readonly #intervalMs: number;
  readonly #maxRetryMs: number;
  readonly #pending = new Set<string>();
  /** When each log's last run started (performance.now()); entries older than the interval are dropped. */
  readonly #lastRun = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;
  #timerAt = 0;
  #inFlight: Promise<void> | undefined;
  #started = false;
  #failures = 0;
  #notBefore = 0;
  #failing: string | null = null;
  #runs = 0;
  #checkpoints = 0;

  constructor(run: CheckpointRun, log: Pick<Logger, "info" | "error">, options: CheckpointerOptions = {}) {
    this.#run = run;
    this.#log = log;
    this.#intervalMs = options.intervalMs ?? 1000;
    this.#maxRetryMs = options.maxRetryMs ?? 60_000;
  }

  start(): void {
    this.#started = true;
  }

  /** Called once a transaction that appended to the log committed. Never throws. */
  grew(logId: string): void {
    if (!this.#started) return;
    this.#pending.add(logId);
    this.#schedule();
  }

  status(): CheckpointerStatus {
    return {
      pendingLogs: this.#pending.size,
      runs: this.#runs,
      checkpoints: this.#checkpoints,
      failing: this.#failing,
    };
  }

  /** Stops taking work and checkpoints every pending log now (after the last request, before the database closes). */
  async stop(): Promise<void> {
    this.#started = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#inFlight;
    if (this.#pending.size > 0) await this.#runLogs([...this.#pending]);
  }

  /** Sets the timer for the earliest due log; a log due sooner than the timer set (another log's interval) brings it forward. */
  #schedule(): void {
    if (!this.#started || this.#inFlight !== undefined || this.#pending.size === 0) return;
    const now = performance.now();
    let due = Number.POSITIVE_INFINITY;
    for (const logId of this.#pending)
      due = Math.min(due, (this.#lastRun.get(logId) ?? Number.NEGATIVE_INFINITY) + this.#intervalMs);
    const at = Math.max(now, due, this.#notBefore);
    if (this.#timer !== undefined && this.#timerAt <= at) return;
    clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#runDue();
    }, at - now);
    this.#timer.unref();
  }

  #runDue(): void {
    const now = performance.now();
    const due = [...this.#pending].filter(
      (logId) => (this.#lastRun.get(logId) ?? Number.NEGATIVE_INFINITY) + this.#intervalMs <= now,
    );
    for (const [logId, at] of this.#lastRun) if (at + this.#intervalMs <= now) this.#lastRun.delete(logId);
    for (const logId of due) this.#lastRun.set(logId, now);
    this.#inFlight = this.#runLogs(due).finally(() => {
      this.#inFlight = undefined;
      this.#schedule();
    });
  }

  async #runLogs(logs: readonly string[]): Promise<void> {
    for (const logId of logs) this.#pending.delete(logId);
    if (logs.length === 0) return;
    try {
      const made = await this.#run(logs);
      this.#runs++;
      this.#checkpoints += made;
      if (this.#failing !== null)
        this.#log.info({ failures: this.#failures }, "audit checkpoints are being made again");
      this.#failures = 0;
      this.#failing = null;
      this.#notBefore = 0;
    } catch (error) {
      for (const logId of logs) this.#pending.add(logId);
      this.#failures++;
      const pause = Math.min(this.#maxRetryMs, this.#intervalMs * 2 ** this.#failures);
      this.#notBefore = performance.now() + pause;
      this.#failing = (error as Error).message;
      this.#log.error(
        {
          logs: logs.length,
          failures: this.#failures,
          retryInMs: pause,
          error: { name: (error as Error).name, message: (error as Error).message },
        },
        "audit checkpoint failed; the events stay uncovered until a later run succeeds",
      );
    }
  }
}
