/**
 * The hot path, end to end (issue 15): the real appliance against a bare baseline, each its own
 * process, driven by a third over HTTPS (TLS 1.3, same certificate) on 127.0.0.1.
 *
 * - real: `node dist/vecto.cjs serve` (rebuilt first if stale) on a fresh data directory, set up
 *   through its API (bench/http/appliance.ts); rate limits raised so high that none refuses, but
 *   the limiter still does its work. Log level and everything else as shipped.
 * - bare: Hono + @hono/node-server + better-sqlite3 with the same pragmas and one transaction per
 *   insert, answering the same JSON shapes (bench/http/bare-server.ts).
 * - load: autocannon in its own process (bench/http/load.ts), which also reads the measured
 *   server's CPU time from /proc around each run; the login storm is a fourth process
 *   (bench/http/login-storm.ts), correct passwords in a loop, while reads are measured.
 *
 * Creates and reads at 10 and 64 clients, with a session JWT and a PAT, interleaved with the bare
 * server round by round (bench/http/cases.ts); ratios are paired within a round. Then start-up of
 * the bundle and of the single binary on the data directory the load left behind.
 *
 * Settings (environment, all optional): BENCH_HTTP_ROUNDS (3), BENCH_HTTP_SECONDS (5),
 * BENCH_HTTP_WARMUP_SECONDS (1), BENCH_HTTP_STORM_CLIENTS (4), BENCH_HTTP_START_RUNS (5),
 * BENCH_HTTP_SEA (on; "off" skips the single binary), BENCH_HTTP_CASES (all; a comma-separated
 * list such as "create@10,read@10" measures only those, skips start-up and leaves the docs alone).
 *
 * Writes bench/results/http.json (through bench/run.ts) and the generated section of
 * docs/performance.md. Takes about four and a half minutes with the defaults.
 *
 * Profile mode, BENCH_HTTP_PROFILE=1: instead of all that, creates and reads at 10 clients with the
 * session JWT, each in its own run of the real server under `node --cpu-prof`
 * (bench/http/profile.ts), summarised by category and by function; writes
 * bench/results/http-profile.json and the "Where the time goes" section of docs/performance.md;
 * the profiles themselves stay in bench/results/http-profile-{create,read}.cpuprofile.
 * BENCH_HTTP_PROFILE_SECONDS (5) per case after the warm-up, BENCH_HTTP_PROFILE_TOP (15) functions
 * listed. About half a minute.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { availableParallelism, cpus, loadavg, release, tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { startAppliance, type Appliance } from "./http/appliance.js";
import { startBare, type Bare } from "./http/bare.js";
import { ensureBundle, ensureSea } from "./http/build.js";
import { EXTRA_VARIANTS, groups, job, type Group, type Side } from "./http/cases.js";
import { writeGeneratedSection, writePerformanceDoc } from "./http/docs.js";
import { rssMiB } from "./http/proc.js";
import { forkWorker, type Worker } from "./http/processes.js";
import { profileCases } from "./http/profile.js";
import { PROFILE_BEGIN, PROFILE_END, profileMarkdown } from "./http/profile-report.js";
import type { LoadJob, LoadReply, StormCommand, StormReply } from "./http/protocol.js";
import {
  loadTable,
  startupTable,
  summarize,
  summarizeStartup,
  type Run,
  type SideRuns,
  type StartupSummary,
  type StormStats,
} from "./http/report.js";
import { startRuns } from "./http/startup.js";
import { round } from "./stats.js";

function setting(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name}: expected a whole number above 0, got "${raw}"`);
  return n;
}

const SETTINGS = {
  rounds: setting("BENCH_HTTP_ROUNDS", 3),
  seconds: setting("BENCH_HTTP_SECONDS", 5),
  warmupSeconds: setting("BENCH_HTTP_WARMUP_SECONDS", 1),
  stormClients: setting("BENCH_HTTP_STORM_CLIENTS", 4),
  startRuns: setting("BENCH_HTTP_START_RUNS", 5),
  sea: process.env.BENCH_HTTP_SEA !== "off",
  /** Only these cases ("op@clients"), for a quick look; undefined: all, with start-up and the docs. */
  cases: process.env.BENCH_HTTP_CASES?.split(",").map((key) => key.trim()),
  /** The storm runs this long before reads are measured under it, so that they meet it at full strength. */
  stormRampMs: 1000,
  /** How long a started server sits idle before its RSS is read again. */
  idleMs: 1000,
  seaBuildTimeoutMs: 180_000,
};

const PROFILE = process.env.BENCH_HTTP_PROFILE === "1";
const PROFILE_SETTINGS = {
  seconds: setting("BENCH_HTTP_PROFILE_SECONDS", 5),
  warmupSeconds: SETTINGS.warmupSeconds,
  top: setting("BENCH_HTTP_PROFILE_TOP", 15),
};

/** bench/run.ts writes bench/results/<this>.json: the profile mode's results do not replace the measure's. */
export function resultsName(): string {
  return PROFILE ? "http-profile" : "http";
}

interface Drivers {
  readonly real: ReadonlyMap<string, Appliance>;
  readonly bare: Bare;
  readonly load: Worker<LoadJob, LoadReply>;
  readonly storm: Worker<StormCommand, StormReply>;
}

let jobId = 0;

async function stormAsk(drivers: Drivers, command: StormCommand): Promise<StormReply> {
  const reply = await drivers.storm.ask(command, () => true);
  if (reply.type === "error") throw new Error(`login storm: ${reply.message}`);
  return reply;
}

/** One run of one side; with the storm around it when the side says so. */
async function measure(drivers: Drivers, group: Group, side: Side, seconds: number, index: number): Promise<Run> {
  const id = ++jobId;
  const load = { ...job(group, side, drivers), id, seconds };
  let storm: StormStats | undefined;
  if (side.storm) {
    const real = drivers.real.get(side.server);
    if (real === undefined) throw new Error(`no server ${side.server}`);
    const origin = `https://127.0.0.1:${real.server.port}`;
    await stormAsk(drivers, { type: "start", origin, body: real.stormLogin, concurrency: SETTINGS.stormClients });
    await new Promise((r) => setTimeout(r, SETTINGS.stormRampMs));
  }
  const reply = await drivers.load.ask(load, (r) => r.id === id);
  if (side.storm) {
    const stopped = await stormAsk(drivers, { type: "stop" });
    if (stopped.type === "stopped") storm = stopped;
  }
  if (reply.type === "error") throw new Error(`${group.key} ${side.label}: ${reply.message}`);
  const r = reply.result;
  // A run of refusals would measure the refusal path: refuse to report it.
  if (r.non2xx > 0 || r.errors > 0 || r.requests === 0)
    throw new Error(`${group.key} ${side.label}: ${r.non2xx} non-2xx, ${r.errors} errors, ${r.requests} requests`);
  if (storm !== undefined && storm.failures > 0)
    throw new Error(`${group.key} ${side.label}: ${storm.failures} failed logins`);
  return { round: index, result: r, loadAverage1m: round(loadavg()[0] ?? 0, 2), ...(storm ? { storm } : {}) };
}

/** Every group: a warm-up run per side, then rounds visiting every side, each round starting one side further. */
async function measureGroups(drivers: Drivers, all: readonly Group[]): Promise<SideRuns[]> {
  const results: SideRuns[] = [];
  for (const group of all) {
    const runs = new Map<Side, Run[]>(group.sides.map((s) => [s, []]));
    for (const side of group.sides.filter((s) => !s.storm))
      await measure(drivers, group, side, SETTINGS.warmupSeconds, -1);
    for (let r = 0; r < SETTINGS.rounds; r++) {
      const order = group.sides.map((_, i) => group.sides[(i + r) % group.sides.length] as Side);
      for (const side of order) runs.get(side)?.push(await measure(drivers, group, side, SETTINGS.seconds, r));
      console.log(`[http] ${group.key}: round ${r + 1} of ${SETTINGS.rounds} done`);
    }
    for (const side of group.sides) results.push({ group, side, runs: runs.get(side) ?? [] });
  }
  return results;
}

async function measureStartups(
  root: string,
  appliance: Appliance,
): Promise<{ startups: StartupSummary[]; skipped: string[] }> {
  const bundle = join(root, "dist", "vecto.cjs");
  const runs = SETTINGS.startRuns;
  const startups = [
    summarizeStartup(
      "bundle",
      "node dist/vecto.cjs serve",
      await startRuns([process.execPath, bundle], appliance, runs, SETTINGS.idleMs, "start-bundle.log"),
    ),
  ];
  const skipped: string[] = [];
  const sea = SETTINGS.sea ? ensureSea(root, SETTINGS.seaBuildTimeoutMs) : { skipped: "BENCH_HTTP_SEA=off" };
  if ("skipped" in sea) skipped.push(sea.skipped);
  else
    startups.push(
      summarizeStartup(
        "single binary (SEA)",
        "dist/vecto serve",
        await startRuns([sea.path], appliance, runs, SETTINGS.idleMs, "start-sea.log"),
      ),
    );
  return { startups, skipped };
}

/** "create@64 real JWT ÷ synchronous=NORMAL 0.93, ..." from the summaries' paired ratios. */
function versusVariants(summaries: ReturnType<typeof summarize>): string {
  const pairs = summaries.flatMap((s) =>
    Object.entries(s.reqPerSecVsVariants).map(
      ([variant, ratio]) => `${s.case} ${s.side} ÷ ${variant} ${ratio ?? "n/a"}`,
    ),
  );
  return pairs.length === 0 ? "none in the cases run" : pairs.join(", ");
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? "" : "s"}`;

function markdown(
  summaries: ReturnType<typeof summarize>,
  startup: { startups: StartupSummary[]; skipped: string[] },
  context: { date: string; load: string; answerBytes: Record<string, unknown>; nodes: number },
): string {
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  const variants =
    EXTRA_VARIANTS.length === 0
      ? "Not measured: creates against the same server with `synchronous=NORMAL` (the appliance has no setting for it; bench/http/cases.ts says where it plugs in)."
      : `Also measured: ${EXTRA_VARIANTS.map((v) => v.name).join(", ")}; the appliance as it ships against it, req/s paired by round: ${versusVariants(summaries)}.`;
  return [
    `Run of ${context.date}: ${cpu}, ${availableParallelism()} logical CPUs, Linux ${release()}, Node ${process.version}; ` +
      `1-minute load average ${context.load} (other work on the machine competes for the same cores). ${plural(SETTINGS.rounds, "round")} of ${SETTINGS.seconds} s per side, ` +
      `interleaved, after a ${SETTINGS.warmupSeconds} s warm-up; login storm: ${SETTINGS.stormClients} concurrent sign-ins.`,
    "",
    "### Requests",
    "",
    loadTable(summaries),
    "",
    `Answer sizes (bytes of JSON): ${JSON.stringify(context.answerBytes)}. ${variants}`,
    "",
    "### Start-up",
    "",
    `On the data directory the load left behind (about ${context.nodes} nodes), ${SETTINGS.startRuns} starts in a row; ` +
      `the first is shown apart, the others give the median. RSS idle: ${SETTINGS.idleMs / 1000} s after ready; ` +
      "anon / file: its anonymous and file-backed parts. The file part also depends on how the kernel holds the " +
      "binary in its page cache: a single binary just written by its build has measured 17 MiB more than the same " +
      "file evicted and read back from disk (see 'Start-up' under 'Before and after the hot-path work').",
    "",
    startupTable(startup.startups, startup.skipped),
  ].join("\n");
}

async function runProfile(root: string): Promise<Record<string, unknown>> {
  const date = new Date().toISOString();
  const bundle = ensureBundle(root);
  const dir = await mkdtemp(join(tmpdir(), "vecto-bench-http-profile-"));
  try {
    const { locations, cases } = await profileCases(bundle.path, dir, join(root, "bench", "results"), PROFILE_SETTINGS);
    const machine =
      `${cpus()[0]?.model ?? "unknown CPU"}, ${availableParallelism()} logical CPUs, Node ${process.version}, ` +
      `1-minute load average ${round(loadavg()[0] ?? 0, 2)} at the end`;
    const section = profileMarkdown(cases, { date, machine, locations, ...PROFILE_SETTINGS });
    const doc = writeGeneratedSection(root, { begin: PROFILE_BEGIN, end: PROFILE_END }, section);
    console.log(`[http] wrote ${relative(root, doc)}`);
    return {
      note:
        "Main-thread CPU profiles (node --cpu-prof) of the appliance, one workload per server run, only the measured " +
        "seconds counted. Percentages are of that window's time, idle included; 'of busy' leaves idle out. The profiler " +
        "slows the server: compare shares, not speeds, with the measure's rows.",
      settings: PROFILE_SETTINGS,
      bundleRebuilt: bundle.rebuilt,
      locations,
      cases,
      summary: cases.flatMap((c) =>
        c.profile.categories.map((k) => ({ case: c.case, category: k.category, ms: k.ms, percent: k.percent })),
      ),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function run(): Promise<Record<string, unknown>> {
  const root = process.cwd();
  if (PROFILE) return runProfile(root);
  const date = new Date().toISOString();
  const loadAtStart = round(loadavg()[0] ?? 0, 2);
  const bundle = ensureBundle(root);
  const dir = await mkdtemp(join(tmpdir(), "vecto-bench-http-"));
  const stoppers: (() => Promise<unknown>)[] = [];
  try {
    const command = [process.execPath, bundle.path];
    const real = new Map<string, Appliance>();
    const primary = await startAppliance(command, join(dir, "real"));
    stoppers.push(() => primary.server.stop());
    real.set("real", primary);
    for (const [i, variant] of EXTRA_VARIANTS.entries()) {
      const extra = await startAppliance(command, join(dir, `variant-${i}`), variant.env);
      stoppers.push(() => extra.server.stop());
      real.set(variant.name, extra);
    }
    const bare = await startBare(join(dir, "bare"), primary);
    stoppers.push(() => bare.server.stop());
    const load = forkWorker<LoadJob, LoadReply>(resolve(import.meta.dirname, "http", "load.ts"));
    stoppers.push(() => load.stop());
    const storm = forkWorker<StormCommand, StormReply>(resolve(import.meta.dirname, "http", "login-storm.ts"));
    stoppers.push(() => storm.stop());

    const selected = groups(EXTRA_VARIANTS).filter((g) => SETTINGS.cases?.includes(g.key) ?? true);
    if (selected.length === 0)
      throw new Error(
        `BENCH_HTTP_CASES: no such case among ${groups([])
          .map((g) => g.key)
          .join(", ")}`,
      );
    const measured = await measureGroups({ real, bare, load, storm }, selected);
    const rssAfterLoadMiB = round(rssMiB(primary.server.pid), 1);
    for (const stop of stoppers.splice(0).reverse()) await stop();

    const summaries = summarize(measured);
    const startup =
      SETTINGS.cases === undefined
        ? await measureStartups(root, primary)
        : { startups: [], skipped: ["BENCH_HTTP_CASES"] };
    const answerBytes = { real: primary.answerBytes, bare: bare.answerBytes };
    const nodes =
      primary.nodeIds.length +
      summaries
        .filter((s) => s.case.startsWith("create") && !s.side.startsWith("bare"))
        .reduce((n, s) => n + s.requests, 0);
    const during = measured.flatMap((s) => s.runs.map((r) => r.loadAverage1m));
    const loadText = `${loadAtStart} at the start, ${Math.min(...during)} to ${Math.max(...during)} after the runs`;
    const context = { date, load: loadText, answerBytes, nodes };
    const table = markdown(summaries, startup, context);
    if (SETTINGS.cases === undefined) console.log(`[http] wrote ${relative(root, writePerformanceDoc(root, table))}`);
    else console.log(table);
    return {
      note:
        "Server, baseline, load and storm are separate processes on one machine and share its cores: compare the rows with each other " +
        "(ratios paired within a round), not with other machines. Server CPU is utime+stime of the server process (every thread) " +
        "from /proc around each run, divided by the requests it answered; under the storm it also pays for the logins, so it is left out there.",
      settings: SETTINGS,
      loadAverage1m: { atStart: loadAtStart, atEnd: round(loadavg()[0] ?? 0, 2), cpus: availableParallelism() },
      bundleRebuilt: bundle.rebuilt,
      answerBytes,
      rssAfterLoadMiB,
      variants: EXTRA_VARIANTS,
      synchronousNormal:
        EXTRA_VARIANTS.length === 0
          ? "not measured: the appliance has no setting for synchronous=NORMAL (see bench/http/cases.ts)"
          : "measured",
      sides: measured.map((s) => ({ case: s.group.key, side: s.side.label, runs: s.runs })),
      startup,
      summary: summaries,
    };
  } finally {
    for (const stop of stoppers.reverse()) await stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}
