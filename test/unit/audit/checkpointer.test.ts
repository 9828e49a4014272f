/**
 * The checkpointer's coalescing rules, with real timers and a run that records what it was asked:
 * runs never overlap, a log is run at most once per interval however often it grows (a long
 * interval makes that checkable without timing anything), a failed run is logged and its logs are
 * kept, and stop() runs what is pending. The run against the real database, anchors and HTTPS
 * server is test/integration/audit-checkpointer.test.ts.
 */
import { describe, expect, it } from "vitest";
import { Checkpointer } from "../../../src/audit/checkpointer.js";
import { createLogger } from "../../../src/log.js";

const HOUR = 3_600_000;
const turn = (): Promise<void> => new Promise((r) => setTimeout(r, 5));

interface Recorder {
  readonly runs: string[][];
  overlaps: number;
  run(logs: readonly string[]): Promise<number>;
}

function recorder(options: { fail?: () => boolean; hold?: Promise<void> } = {}): Recorder {
  let active = 0;
  const r: Recorder = {
    runs: [],
    overlaps: 0,
    async run(logs) {
      active++;
      if (active > 1) r.overlaps++;
      r.runs.push([...logs].sort());
      try {
        await options.hold;
        if (options.fail?.()) throw new Error("disk full");
        return logs.length;
      } finally {
        active--;
      }
    },
  };
  return r;
}

async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !done(); i++) await turn();
}

describe("Checkpointer", () => {
  it("does nothing until started", async () => {
    const r = recorder();
    const c = new Checkpointer(r.run, createLogger("silent"));
    c.grew("a");
    await turn();
    await c.stop();
    expect(r.runs).toEqual([]);
  });

  it("runs a quiet log at once, then at most once per interval however often it grows; stop() runs the rest", async () => {
    const r = recorder();
    const c = new Checkpointer(r.run, createLogger("silent"), { intervalMs: HOUR });
    c.start();
    c.grew("a");
    await until(() => r.runs.length === 1);
    expect(r.runs).toEqual([["a"]]);
    for (let i = 0; i < 50; i++) {
      c.grew("a");
      await turn();
    }
    // Another log is not held back by the first one's interval.
    c.grew("b");
    await until(() => r.runs.length === 2);
    expect(r.runs).toEqual([["a"], ["b"]]);
    expect(c.status()).toMatchObject({ pendingLogs: 1, runs: 2 });
    await c.stop();
    expect(r.runs).toEqual([["a"], ["b"], ["a"]]);
    expect(r.overlaps).toBe(0);
  });

  it("never overlaps runs: logs that grow during a run go into the next one, together", async () => {
    let release = (): void => {};
    const r = recorder({ hold: new Promise<void>((resolve) => (release = resolve)) });
    const c = new Checkpointer(r.run, createLogger("silent"), { intervalMs: 0 });
    c.start();
    c.grew("a");
    await until(() => r.runs.length === 1);
    for (const log of ["a", "b", "c", "b"]) c.grew(log);
    await turn();
    expect(r.runs).toHaveLength(1);
    release();
    await until(() => r.runs.length === 2);
    await c.stop();
    expect(r.runs).toEqual([["a"], ["a", "b", "c"]]);
    expect(r.overlaps).toBe(0);
  });

  it("logs a failed run and keeps its logs; stop() tries them again", async () => {
    const lines: string[] = [];
    let failing = true;
    const r = recorder({ fail: () => failing });
    const c = new Checkpointer(r.run, createLogger("info", { write: (line: string) => lines.push(line) }), {
      intervalMs: HOUR,
    });
    c.start();
    c.grew("a");
    await until(() => c.status().failing !== null);
    expect(c.status()).toMatchObject({ pendingLogs: 1, failing: "disk full" });
    expect(lines.map((l) => JSON.parse(l) as Record<string, unknown>)).toEqual([
      expect.objectContaining({
        level: "error",
        msg: "audit checkpoint failed; the events stay uncovered until a later run succeeds",
        error: { name: "Error", message: "disk full" },
      }),
    ]);
    failing = false;
    await c.stop();
    expect(r.runs).toEqual([["a"], ["a"]]);
    expect(c.status()).toMatchObject({ pendingLogs: 0, failing: null });
  });
});
