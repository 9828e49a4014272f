/** From the runs of bench/http.bench.ts to figures: per side, ratios paired by round, and the Markdown table. */
import { percentile, round } from "../stats.js";
import type { Group, Side } from "./cases.js";
import type { LoadResult } from "./protocol.js";

export interface StormStats {
  readonly logins: number;
  readonly failures: number;
  readonly seconds: number;
}

/** One side's run in one round. */
export interface Run {
  readonly round: number;
  readonly result: LoadResult;
  /** The machine's 1-minute load average just after the run: how much else was competing for the cores. */
  readonly loadAverage1m: number;
  readonly storm?: StormStats;
}

export interface SideRuns {
  readonly group: Group;
  readonly side: Side;
  readonly runs: readonly Run[];
}

export interface SideSummary {
  readonly case: string;
  readonly side: string;
  readonly requests: number;
  readonly reqPerSec: number;
  /** Medians over the rounds. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Server CPU (all threads) per request; null under the storm, where it pays for the logins too. */
  readonly cpuMsPerRequest: number | null;
  /** Median over rounds of (this side's req/s ÷ bare's req/s in the same round). */
  readonly reqPerSecVsBare: number | null;
  /** Median over rounds of (bare's CPU per request ÷ this side's), the same kind of figure as req/s ÷ bare. */
  readonly cpuVsBare: number | null;
  /** Storm sides: median over rounds of (p99 under the storm ÷ idle p99 of the same credential, same round). */
  readonly p99VsIdle: number | null;
  readonly loginsPerSec: number | null;
  /** "real" sides: median over rounds of (this side's req/s ÷ each other real variant's, same credential and round). */
  readonly reqPerSecVsVariants: Readonly<Record<string, number | null>>;
  /** Median share of one core the load process itself used: near 1, autocannon was the limit, not the server. */
  readonly loadProcessBusy: number;
}

function median(values: readonly number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    0.5,
  );
}

const cpuPerRequest = (r: LoadResult): number => r.serverCpuMs / Math.max(1, r.requests);

/** Pairs `side`'s runs with `other`'s of the same round and takes the median of f(side, other). */
function paired(side: SideRuns, other: SideRuns | undefined, f: (a: Run, b: Run) => number): number | null {
  if (other === undefined || other === side) return null;
  const ratios = side.runs.flatMap((run) => {
    const match = other.runs.find((o) => o.round === run.round);
    return match === undefined ? [] : [f(run, match)];
  });
  return ratios.length === 0 ? null : round(median(ratios), 3);
}

export function summarize(all: readonly SideRuns[]): SideSummary[] {
  return all.map((s) => {
    const sameGroup = all.filter((o) => o.group.key === s.group.key);
    const bare = sameGroup.find((o) => o.side.server === "bare");
    const idle = sameGroup.find(
      (o) => o.side.server === s.side.server && o.side.credential === s.side.credential && !o.side.storm,
    );
    const requests = s.runs.reduce((n, r) => n + r.result.requests, 0);
    const seconds = s.runs.reduce((n, r) => n + r.result.seconds, 0);
    const cpuMs = s.runs.reduce((n, r) => n + r.result.serverCpuMs, 0);
    const logins = s.runs.reduce((n, r) => n + (r.storm?.logins ?? 0), 0);
    const stormSeconds = s.runs.reduce((n, r) => n + (r.storm?.seconds ?? 0), 0);
    const storm = s.side.storm;
    const variants = sameGroup.filter(
      (o) =>
        s.side.server === "real" &&
        !["real", "bare"].includes(o.side.server) &&
        o.side.credential === s.side.credential &&
        o.side.storm === s.side.storm,
    );
    return {
      case: s.group.key,
      side: s.side.label,
      requests,
      reqPerSec: round(requests / seconds, 1),
      p50Ms: median(s.runs.map((r) => r.result.latencyMs.p50)),
      p99Ms: median(s.runs.map((r) => r.result.latencyMs.p99)),
      cpuMsPerRequest: storm ? null : round(cpuMs / Math.max(1, requests), 3),
      reqPerSecVsBare: storm ? null : paired(s, bare, (a, b) => a.result.reqPerSec / b.result.reqPerSec),
      cpuVsBare: storm ? null : paired(s, bare, (a, b) => cpuPerRequest(b.result) / cpuPerRequest(a.result)),
      p99VsIdle: storm ? paired(s, idle, (a, b) => a.result.latencyMs.p99 / b.result.latencyMs.p99) : null,
      loginsPerSec: storm ? round(logins / Math.max(stormSeconds, 1e-9), 1) : null,
      reqPerSecVsVariants: Object.fromEntries(
        variants.map((v) => [v.side.server, paired(s, v, (a, b) => a.result.reqPerSec / b.result.reqPerSec)]),
      ),
      loadProcessBusy: round(median(s.runs.map((r) => r.result.loadCpuMs / (r.result.seconds * 1000))), 2),
    };
  });
}

export interface StartupRun {
  readonly readyMs: number;
  /** User + system CPU time of the server (every thread) when it first answered ready. */
  readonly cpuAtReadyMs: number;
  readonly rssAtReadyMiB: number;
  readonly rssIdleMiB: number;
  /** RSS idle's anonymous and file-backed parts (bench/http/proc.ts rssPartsMiB). */
  readonly rssIdleAnonMiB: number;
  readonly rssIdleFileMiB: number;
  readonly exitCode: number | null;
}

export interface StartupSummary {
  readonly binary: string;
  readonly command: string;
  /** The first start of the series (the data directory and binary just used: warm caches, first exec of this binary maybe not). */
  readonly first: StartupRun;
  /** Medians of the other runs. */
  readonly warm: {
    readonly runs: number;
    readonly readyMs: number;
    readonly cpuAtReadyMs: number;
    readonly rssAtReadyMiB: number;
    readonly rssIdleMiB: number;
    readonly rssIdleAnonMiB: number;
    readonly rssIdleFileMiB: number;
  };
  readonly runs: readonly StartupRun[];
}

export function summarizeStartup(binary: string, command: string, runs: readonly StartupRun[]): StartupSummary {
  const [first, ...rest] = runs;
  if (first === undefined) throw new Error("no start-up run");
  const warm = rest.length > 0 ? rest : [first];
  return {
    binary,
    command,
    first,
    warm: {
      runs: warm.length,
      readyMs: round(median(warm.map((r) => r.readyMs)), 1),
      cpuAtReadyMs: round(median(warm.map((r) => r.cpuAtReadyMs)), 1),
      rssAtReadyMiB: round(median(warm.map((r) => r.rssAtReadyMiB)), 1),
      rssIdleMiB: round(median(warm.map((r) => r.rssIdleMiB)), 1),
      rssIdleAnonMiB: round(median(warm.map((r) => r.rssIdleAnonMiB)), 1),
      rssIdleFileMiB: round(median(warm.map((r) => r.rssIdleFileMiB)), 1),
    },
    runs,
  };
}

const cell = (n: number | null, digits = 2): string => (n === null ? "" : String(round(n, digits)));

export function loadTable(summaries: readonly SideSummary[]): string {
  const head = [
    "| Case | Side | req/s | p50 ms | p99 ms | server CPU ms/req | req/s ÷ bare | CPU: bare ÷ real | p99 ÷ idle | logins/s |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  const rows = summaries.map((s) =>
    [
      s.case,
      s.side,
      cell(s.reqPerSec, 0),
      cell(s.p50Ms),
      cell(s.p99Ms),
      cell(s.cpuMsPerRequest, 3),
      cell(s.reqPerSecVsBare, 3),
      cell(s.cpuVsBare, 3),
      cell(s.p99VsIdle, 1),
      cell(s.loginsPerSec, 1),
    ].join(" | "),
  );
  return [...head, ...rows.map((r) => `| ${r} |`)].join("\n");
}

export function startupTable(startups: readonly StartupSummary[], skipped: readonly string[]): string {
  const head = [
    "| Binary | exec to first /readyz 200, warm (median) | first start of the series | CPU to ready | RSS at ready | RSS idle | of which anon / file |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  const rows = startups.map(
    (s) =>
      `| \`${s.command}\` | ${s.warm.readyMs} ms (${s.warm.runs} run${s.warm.runs === 1 ? "" : "s"}) | ${round(s.first.readyMs, 1)} ms | ${s.warm.cpuAtReadyMs} ms | ${s.warm.rssAtReadyMiB} MiB | ${s.warm.rssIdleMiB} MiB | ${s.warm.rssIdleAnonMiB} / ${s.warm.rssIdleFileMiB} MiB |`,
  );
  return [
    ...head,
    ...rows,
    ...skipped.map((why) => `| single binary: not measured (${why.replaceAll("|", "/")}) | | | | | | |`),
  ].join("\n");
}
