/**
 * Two (or more) builds of the appliance side by side in one run, for a before/after of a change
 * to the request path: each build is started and set up as `npm run bench -- http` does it
 * (bench/http/appliance.ts), next to the bare baseline, and the same load visits every side,
 * interleaved, round after round. Ratios pair a side with the bare server's run of the same round.
 *
 *   node appliance/bundle.mjs && cp dist/vecto.cjs /tmp/before.cjs   # on the commit before
 *   node appliance/bundle.mjs                                         # on the commit after
 *   BENCH_BUILDS=before=/tmp/before.cjs,after=dist/vecto.cjs npm run bench -- http-builds
 *
 * Settings (environment): BENCH_BUILDS (name=bundle,...; without it the bench says so and measures
 * nothing), BENCH_BUILDS_OP (read; or create), BENCH_BUILDS_CLIENTS (10), BENCH_BUILDS_ROUNDS (5),
 * BENCH_BUILDS_SECONDS (4), BENCH_BUILDS_CREDENTIALS ("session JWT,PAT").
 */
import { mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startAppliance, type Appliance } from "./http/appliance.js";
import { startBare } from "./http/bare.js";
import { job, type Credential, type Group, type Op, type Side } from "./http/cases.js";
import { forkWorker } from "./http/processes.js";
import type { LoadJob, LoadReply, LoadResult } from "./http/protocol.js";
import { round } from "./stats.js";

const env = (name: string, fallback: string): string => process.env[name] ?? fallback;

const SETTINGS = {
  op: env("BENCH_BUILDS_OP", "read") as Op,
  clients: Number(env("BENCH_BUILDS_CLIENTS", "10")),
  rounds: Number(env("BENCH_BUILDS_ROUNDS", "5")),
  seconds: Number(env("BENCH_BUILDS_SECONDS", "4")),
  credentials: env("BENCH_BUILDS_CREDENTIALS", "session JWT,PAT").split(",") as Credential[],
};

function builds(): [string, string][] {
  return (process.env.BENCH_BUILDS ?? "")
    .split(",")
    .filter((entry) => entry !== "")
    .map((entry) => {
      const [name = "", path = ""] = entry.split("=");
      if (name === "" || path === "") throw new Error(`BENCH_BUILDS entry "${entry}" is not name=bundle`);
      return [name, resolve(path)];
    });
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};
const cpuPerRequest = (r: LoadResult): number => r.serverCpuMs / r.requests;

export async function run(): Promise<Record<string, unknown>> {
  const named = builds();
  if (named.length === 0) return { skipped: "set BENCH_BUILDS=name=bundle,name=bundle to compare builds" };
  if (!["read", "create"].includes(SETTINGS.op)) throw new Error("BENCH_BUILDS_OP is read or create");
  const dir = await mkdtemp(join(tmpdir(), "vecto-bench-builds-"));
  const stoppers: (() => Promise<unknown>)[] = [];
  try {
    const real = new Map<string, Appliance>();
    for (const [name, bundle] of named) {
      const appliance = await startAppliance([process.execPath, bundle], join(dir, name));
      stoppers.push(() => appliance.server.stop());
      real.set(name, appliance);
    }
    const first = real.get(named[0]?.[0] ?? "");
    if (first === undefined) throw new Error("no build started");
    const bare = await startBare(join(dir, "bare"), first);
    stoppers.push(() => bare.server.stop());
    const load = forkWorker<LoadJob, LoadReply>(resolve(import.meta.dirname, "http", "load.ts"));
    stoppers.push(() => load.stop());

    const sides: Side[] = [
      ...named.flatMap(([name]) =>
        SETTINGS.credentials.map((credential) => ({
          label: `${name} ${credential === "PAT" ? "PAT" : "JWT"}`,
          server: name,
          credential,
          storm: false,
        })),
      ),
      { label: "bare", server: "bare", credential: null, storm: false },
    ];
    const group: Group = {
      key: `${SETTINGS.op}@${SETTINGS.clients}`,
      op: SETTINGS.op,
      clients: SETTINGS.clients,
      sides,
    };
    let id = 0;
    const measure = async (side: Side, seconds: number): Promise<LoadResult> => {
      const n = ++id;
      const reply = await load.ask({ ...job(group, side, { real, bare }), id: n, seconds }, (r) => r.id === n);
      if (reply.type === "error") throw new Error(`${side.label}: ${reply.message}`);
      const r = reply.result;
      if (r.non2xx > 0 || r.errors > 0 || r.requests === 0)
        throw new Error(`${side.label}: ${r.non2xx} non-2xx, ${r.errors} errors, ${r.requests} requests`);
      return r;
    };
    for (const side of sides) await measure(side, 1);
    const runs = new Map<Side, LoadResult[]>(sides.map((s) => [s, []]));
    const loads: number[] = [];
    for (let r = 0; r < SETTINGS.rounds; r++) {
      for (let i = 0; i < sides.length; i++) {
        const side = sides[(i + r) % sides.length] as Side;
        runs.get(side)?.push(await measure(side, SETTINGS.seconds));
      }
      loads.push(round(loadavg()[0] ?? 0, 2));
      console.log(`[http-builds] round ${r + 1} of ${SETTINGS.rounds} done`);
    }
    const bareRuns = runs.get(sides.at(-1) as Side) ?? [];
    const summary = sides.map((side) => {
      const own = runs.get(side) ?? [];
      const pairs = own.map((r, i) => ({ r, b: bareRuns[i] as LoadResult }));
      return {
        case: group.key,
        side: side.label,
        reqPerSec: round(median(own.map((r) => r.reqPerSec)), 0),
        p99Ms: median(own.map((r) => r.latencyMs.p99)),
        serverCpuMsPerReq: round(median(own.map(cpuPerRequest))),
        reqPerSecOverBare: round(median(pairs.map(({ r, b }) => r.reqPerSec / b.reqPerSec))),
        cpuBareOverReal: round(median(pairs.map(({ r, b }) => cpuPerRequest(b) / cpuPerRequest(r)))),
      };
    });
    return {
      note:
        "Builds, bare baseline and load on one machine, interleaved; ratios are medians over rounds of each run's ratio " +
        "to the bare server's run of the same round. Compare the rows of one run with each other.",
      settings: SETTINGS,
      builds: Object.fromEntries(named),
      loadAverage1mAfterRounds: loads,
      summary,
    };
  } finally {
    for (const stop of stoppers.reverse()) await stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}
