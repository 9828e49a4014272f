/**
 * Events appended in batches off the request path (read events, src/audit/read-audit.ts): kept in
 * memory, written together in ONE write transaction at most `intervalMs` (≤ 1 s) after the first of
 * them was queued, and on close. So a request never waits for the fsync of its event; the price is
 * that a crash can lose the last second of queued events (never a write's own event: those commit
 * with their write).
 *
 * When a write fails (disk full, database closed), the batch goes back to the head of the queue
 * and is retried a tick later; requests are never blocked or failed by it. The queue is bounded:
 * past `maxQueued` the oldest events are dropped and counted. The failure is logged once when it
 * starts, and once when writing works again, with the number dropped meanwhile; events still
 * queued when the batcher is closed and the last write fails are logged as lost, by count.
 */
import type { DomainEvent } from "../vocabulary/events.js";
import type { Logger } from "../log.js";

/** At most one second behind (issue 14; docs/audit.md "Read events"). */
export const MAX_BATCH_DELAY_MS = 1000;
/** About 10 MB of events at most in memory while writes fail. */
export const MAX_QUEUED_EVENTS = 10_000;

export interface EventBatcherDeps {
  /** Appends the events in one write transaction; resolves once it committed. */
  readonly write: (events: readonly DomainEvent[]) => Promise<void>;
  readonly log: Logger;
  readonly intervalMs?: number;
  readonly maxQueued?: number;
}

export class EventBatcher {
  #queue: DomainEvent[] = [];
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #failing = false;
  #dropped = 0;
  readonly #intervalMs: number;
  readonly #maxQueued: number;

  constructor(private readonly deps: EventBatcherDeps) {
    this.#intervalMs = Math.min(deps.intervalMs ?? MAX_BATCH_DELAY_MS, MAX_BATCH_DELAY_MS);
    this.#maxQueued = deps.maxQueued ?? MAX_QUEUED_EVENTS;
  }

  /** Queues an event; returns at once. After close, an event has nowhere to go and is counted as dropped. */
  add(event: DomainEvent): void {
    if (this.#closed) {
      this.#dropped += 1;
      return;
    }
    this.#queue.push(event);
    this.#trim();
    this.#arm();
  }

  /** Writes what is queued now, in one transaction. */
  async flush(): Promise<void> {
    this.#disarm();
    const batch = this.#queue;
    if (batch.length === 0) return;
    this.#queue = [];
    try {
      await this.deps.write(batch);
      this.#recovered();
    } catch (error) {
      this.#failed(batch, error);
    }
  }

  /**
   * Stops the timer and writes what is queued. The write is handed to the database before this
   * returns, and closing the database commits the writes queued in it, so a caller closing the
   * database right after loses nothing; the returned promise settles once the outcome is known.
   */
  close(): Promise<void> {
    this.#closed = true;
    return this.flush();
  }

  #arm(): void {
    if (this.#timer !== undefined || this.#closed) return;
    this.#timer = setTimeout(() => void this.flush(), this.#intervalMs);
    // Never keeps the process alive on its own: shutdown flushes through close().
    this.#timer.unref();
  }

  #disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #trim(): void {
    const excess = this.#queue.length - this.#maxQueued;
    if (excess <= 0) return;
    this.#queue.splice(0, excess);
    this.#dropped += excess;
  }

  #failed(batch: DomainEvent[], error: unknown): void {
    const reason =
      error instanceof Error ? { name: error.name, message: error.message } : { name: "Error", message: String(error) };
    if (this.#closed) {
      this.deps.log.error(
        { error: reason, lost: batch.length + this.#queue.length },
        "audit: queued read events could not be written at shutdown and are lost",
      );
      return;
    }
    if (!this.#failing)
      this.deps.log.error(
        { error: reason, queued: batch.length + this.#queue.length },
        "audit: read events cannot be written; kept in memory and retried every second",
      );
    this.#failing = true;
    this.#queue = [...batch, ...this.#queue];
    this.#trim();
    this.#arm();
  }

  #recovered(): void {
    if (!this.#failing) return;
    this.#failing = false;
    this.deps.log.warn({ dropped: this.#dropped }, "audit: read events are written again");
    this.#dropped = 0;
  }
}
