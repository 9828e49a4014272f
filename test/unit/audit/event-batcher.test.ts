/**
 * The batcher behind read events (src/audit/event-batcher.ts) when writing fails (docs/audit.md
 * "Read events"): the batch is kept, in order, and retried a tick later; past the bound the oldest
 * are dropped and counted; the start and the end of the failure are logged once each. The write is
 * a plain function here that fails while `failing` is set, so a failure can start and end exactly
 * between two batches; the write to the real log is in test/integration/read-audit*.test.ts. Time is
 * vitest's fake timers.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { EventBatcher } from "../../../src/audit/event-batcher.js";
import { createLogger } from "../../../src/log.js";
import type { DomainEvent } from "../../../src/vocabulary/events.js";

const event = (n: number): DomainEvent => ({
  event: "read.content",
  sensitivity: "normal",
  severity: "info",
  tenantId: "t",
  actor: { type: "system", id: "test" },
  payload: { n },
});

describe("event batcher when writes fail", () => {
  let written: number[][];
  let failing: boolean;
  let lines: { msg: string; dropped?: number; queued?: number; lost?: number }[];
  let batcher: EventBatcher;

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    written = [];
    failing = false;
    lines = [];
    const log = createLogger("warn", {
      write: (line: string) => void lines.push(JSON.parse(line) as (typeof lines)[number]),
    });
    const write = (events: readonly DomainEvent[]): Promise<void> => {
      if (failing) return Promise.reject(new Error("disk full"));
      written.push(events.map((e) => e.payload.n as number));
      return Promise.resolve();
    };
    batcher = new EventBatcher({ write, log, maxQueued: 3 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("keeps a failed batch, retries it a second later in order with what came meanwhile, and logs the failure's start and end once", async () => {
    failing = true;
    batcher.add(event(1));
    batcher.add(event(2));
    await vi.advanceTimersByTimeAsync(1000);
    batcher.add(event(3));
    await vi.advanceTimersByTimeAsync(1000);
    expect(written).toEqual([]);
    failing = false;
    await vi.advanceTimersByTimeAsync(1000);
    expect(written).toEqual([[1, 2, 3]]);
    expect(lines.map((l) => l.msg)).toEqual([
      "audit: read events cannot be written; kept in memory and retried every second",
      "audit: read events are written again",
    ]);
    expect(lines[1]?.dropped).toBe(0);
  });

  it("drops the oldest past the bound and says how many", async () => {
    failing = true;
    for (const n of [1, 2, 3, 4, 5]) batcher.add(event(n));
    await vi.advanceTimersByTimeAsync(1000);
    failing = false;
    await vi.advanceTimersByTimeAsync(1000);
    expect(written).toEqual([[3, 4, 5]]);
    expect(lines.at(-1)).toMatchObject({ msg: "audit: read events are written again", dropped: 2 });
  });

  it("on close, writes what is queued without waiting for the timer, and logs what it could not write as lost", async () => {
    batcher.add(event(1));
    await batcher.close();
    expect(written).toEqual([[1]]);
    const other = new EventBatcher({
      write: () => Promise.reject(new Error("database is closed")),
      log: createLogger("warn", {
        write: (line: string) => void lines.push(JSON.parse(line) as (typeof lines)[number]),
      }),
    });
    other.add(event(2));
    other.add(event(3));
    await other.close();
    expect(lines.at(-1)).toMatchObject({
      msg: "audit: queued read events could not be written at shutdown and are lost",
      lost: 2,
    });
  });
});
