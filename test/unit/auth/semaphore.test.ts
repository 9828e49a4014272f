import { describe, expect, it } from "vitest";
import { Semaphore } from "../../../src/auth/semaphore.js";

/** A task that runs until the test finishes it. */
function gate(): { promise: Promise<void>; open(): void; fail(): void } {
  let open = (): void => undefined;
  let fail = (): void => undefined;
  const promise = new Promise<void>((resolve, reject) => {
    open = resolve;
    fail = () => reject(new Error("task failed"));
  });
  return { promise, open, fail };
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe("semaphore", () => {
  it("runs at most its limit at once and starts the others in arrival order", async () => {
    const slots = new Semaphore(2);
    const gates = [gate(), gate(), gate(), gate(), gate()];
    const started: number[] = [];
    const done = gates.map((g, i) =>
      slots.run(async () => {
        started.push(i);
        await g.promise;
        return i;
      }),
    );
    await settle();
    expect(started).toEqual([0, 1]);
    expect([slots.running, slots.waiting]).toEqual([2, 3]);
    gates[1]?.open();
    await settle();
    expect(started).toEqual([0, 1, 2]);
    expect([slots.running, slots.waiting]).toEqual([2, 2]);
    for (const g of gates) g.open();
    expect(await Promise.all(done)).toEqual([0, 1, 2, 3, 4]);
    expect(started).toEqual([0, 1, 2, 3, 4]);
    expect([slots.running, slots.waiting]).toEqual([0, 0]);
  });

  it("a failing task gives its slot to the next one and its error to its caller", async () => {
    const slots = new Semaphore(1);
    const first = gate();
    const failing = slots.run(() => first.promise);
    const next = slots.run(() => Promise.resolve("next ran"));
    await settle();
    expect(slots.waiting).toBe(1);
    first.fail();
    await expect(failing).rejects.toThrow("task failed");
    expect(await next).toBe("next ran");
    expect([slots.running, slots.waiting]).toEqual([0, 0]);
  });

  it("refuses a limit below 1", () => {
    for (const limit of [0, -1, 1.5, Number.NaN]) expect(() => new Semaphore(limit), String(limit)).toThrow(RangeError);
  });
});
