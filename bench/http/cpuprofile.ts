/**
 * A .cpuprofile (what `node --cpu-prof` writes: V8's sampled call tree) reduced to what the bench
 * reports: the time of a window of it, by function (self and inclusive) and by category
 * (bench/http/profile-categories.ts). Each sample weighs the time until the next one.
 */
import { readFileSync } from "node:fs";
import { round } from "../stats.js";
import { categorize, type Category, type Frame } from "./profile-categories.js";
import type { Locator } from "./source-locations.js";

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
  readonly columnNumber: number;
}
interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}
/** The fields of the .cpuprofile JSON used here (Chrome DevTools' Profiler.Profile). */
interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  /** Microseconds on the monotonic clock (CLOCK_MONOTONIC on Linux, as process.hrtime). */
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface Item {
  readonly function: string;
  readonly file: string;
  readonly line: number;
  readonly ms: number;
  /** Of all the window's time on the main thread, idle included. */
  readonly percent: number;
}

export interface CategoryShare {
  readonly category: Category;
  readonly ms: number;
  readonly percent: number;
  /** Of the time the main thread was not idle. */
  readonly percentOfBusy: number;
}

export interface ProfileSummary {
  readonly samples: number;
  readonly windowMs: number;
  readonly busyMs: number;
  readonly meanIntervalUs: number;
  readonly categories: readonly CategoryShare[];
  readonly self: readonly Item[];
  /** Every frame, Node's and the libraries' wrappers included (they come first: a request runs inside them). */
  readonly inclusive: readonly Item[];
  /** The appliance's own functions (src/) only, with everything they called. */
  readonly inclusiveSrc: readonly Item[];
}

/** Each node's stack, leaf first, as located frames. */
function stacks(profile: CpuProfile, locator: Locator): Map<number, Frame[]> {
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const frames = new Map<number, Frame>();
  for (const { id, callFrame: c } of profile.nodes) {
    const where = locator.locate(c.url, c.lineNumber, c.columnNumber);
    frames.set(id, { name: c.functionName === "" ? "(anonymous)" : c.functionName, ...where });
  }
  const result = new Map<number, Frame[]>();
  for (const { id } of profile.nodes) {
    const stack: Frame[] = [];
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = frames.get(at);
      if (frame !== undefined && frame.name !== "(root)") stack.push(frame);
    }
    result.set(id, stack);
  }
  return result;
}

/**
 * The name a frame is listed under. Native code and V8 builtins have no file: they are named
 * after the JS function that called them ("run ← commitBatch"), or a statement's run would lump
 * BEGIN with every SELECT.
 */
function key(stack: readonly Frame[], index: number): { function: string; file: string; line: number } {
  const frame = stack[index] as Frame;
  if (frame.file !== "" || frame.name.startsWith("(")) {
    const name = frame.name === "(anonymous)" && frame.line > 0 ? `(anonymous):${frame.line}` : frame.name;
    return { function: name, file: frame.file, line: frame.line };
  }
  const caller = stack.slice(index + 1).find((f) => f.file !== "");
  return caller === undefined
    ? { function: `${frame.name} (native)`, file: "", line: 0 }
    : { function: `${frame.name} (native) ← ${caller.name}`, file: caller.file, line: caller.line };
}

function top(times: Map<string, { item: Omit<Item, "ms" | "percent">; us: number }>, totalUs: number, n: number) {
  return [...times.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, n)
    .map(({ item, us }): Item => ({ ...item, ms: round(us / 1000, 1), percent: round((100 * us) / totalUs, 1) }));
}

/**
 * The samples taken between `fromUs` and `toUs` (monotonic µs, as process.hrtime.bigint() / 1000n
 * reads them in any process), summarised; `topN` functions by self and by inclusive time.
 */
export function summarizeProfile(
  file: string,
  locator: Locator,
  window: { readonly fromUs: number; readonly toUs: number },
  topN: number,
): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  if (window.fromUs < profile.startTime || window.toUs > profile.endTime)
    throw new Error(
      `${file}: the load ran outside the profile (profile ${profile.startTime}..${profile.endTime} µs, load ${window.fromUs}..${window.toUs} µs)`,
    );
  const byNode = stacks(profile, locator);
  const self = new Map<string, { item: Omit<Item, "ms" | "percent">; us: number }>();
  const inclusive = new Map<string, { item: Omit<Item, "ms" | "percent">; us: number }>();
  const categories = new Map<Category, number>();
  const add = (map: typeof self, item: Omit<Item, "ms" | "percent">, us: number): void => {
    const k = `${item.function}\u0000${item.file}`;
    const entry = map.get(k);
    if (entry === undefined) map.set(k, { item, us });
    else entry.us += us;
  };
  let at = profile.startTime;
  let totalUs = 0;
  let samples = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i] ?? 0;
    const us = profile.timeDeltas[i + 1] ?? 0;
    if (at < window.fromUs || at >= window.toUs || us <= 0) continue;
    const stack = byNode.get(profile.samples[i] as number) ?? [];
    if (stack.length === 0) continue;
    samples++;
    totalUs += us;
    add(self, key(stack, 0), us);
    const seen = new Set<string>();
    for (let j = 0; j < stack.length; j++) {
      const item = key(stack, j);
      if (item.file === "" && !item.function.startsWith("(")) continue; // natives count in their callers
      const k = `${item.function}\u0000${item.file}`;
      if (seen.has(k)) continue; // recursion counts once
      seen.add(k);
      add(inclusive, item, us);
    }
    const category = categorize(stack);
    categories.set(category, (categories.get(category) ?? 0) + us);
  }
  if (samples === 0) throw new Error(`${file}: no samples in the load's window`);
  const idleUs = categories.get("idle") ?? 0;
  const busyUs = totalUs - idleUs;
  return {
    samples,
    windowMs: round(totalUs / 1000, 1),
    busyMs: round(busyUs / 1000, 1),
    meanIntervalUs: round(totalUs / samples, 1),
    categories: [...categories.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([category, us]) => ({
        category,
        ms: round(us / 1000, 1),
        percent: round((100 * us) / totalUs, 1),
        percentOfBusy: category === "idle" || busyUs === 0 ? 0 : round((100 * us) / busyUs, 1),
      })),
    self: top(self, totalUs, topN),
    inclusive: top(inclusive, totalUs, topN),
    inclusiveSrc: top(new Map([...inclusive].filter(([, v]) => v.item.file.startsWith("src/"))), totalUs, topN),
  };
}
