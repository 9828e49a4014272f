/**
 * Profile mode of bench/http.bench.ts (BENCH_HTTP_PROFILE=1): where the appliance's main thread
 * spends a request. The appliance is provisioned once (bench/http/appliance.ts, not profiled),
 * then started again on that data directory under `node --cpu-prof` once per case, so that each
 * profile holds one workload: a warm-up, then the measured load, then SIGTERM (the appliance's
 * clean shutdown ends in process.exit(0), which is when Node writes the profile). Only the samples
 * taken while the measured load ran are summarised (bench/http/cpuprofile.ts).
 */
import { copyFileSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { round } from "../stats.js";
import { startAppliance, type Appliance } from "./appliance.js";
import { job, REAL_JWT, type Group } from "./cases.js";
import { summarizeProfile, type ProfileSummary } from "./cpuprofile.js";
import { contextSwitches } from "./proc.js";
import { forkWorker, spawnServer, whenReady, type Server, type Worker } from "./processes.js";
import type { LoadJob, LoadReply, LoadResult } from "./protocol.js";
import { bundleLocator, type Locator } from "./source-locations.js";

export interface ProfileSettings {
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly top: number;
}

export interface ProfiledCase {
  readonly case: string;
  readonly side: string;
  /** The load as measured under the profiler (which slows the server down: compare shares, not speed). */
  readonly load: LoadResult;
  /**
   * The server main thread's involuntary context switches during the load, per request: a sample
   * is taken when the thread runs again, so time it waited for a core lands on whatever it was
   * doing (most often a socket write, which wakes the load process).
   */
  readonly involuntarySwitchesPerRequest: number;
  readonly profileFile: string;
  readonly profile: ProfileSummary;
}

/** One workload each: creates and reads at 10 clients with the session JWT. */
export const PROFILED: readonly Group[] = [
  { key: "create@10", op: "create", clients: 10, sides: [REAL_JWT] },
  { key: "read@10", op: "read", clients: 10, sides: [REAL_JWT] },
];

const monotonicUs = (): number => Number(process.hrtime.bigint() / 1000n);
let jobId = 0;

async function drive(load: Worker<LoadJob, LoadReply>, template: Omit<LoadJob, "id" | "seconds">, seconds: number) {
  const id = ++jobId;
  const reply = await load.ask({ ...template, id, seconds }, (r) => r.id === id);
  if (reply.type === "error") throw new Error(reply.message);
  const r = reply.result;
  if (r.non2xx > 0 || r.errors > 0 || r.requests === 0)
    throw new Error(`${r.non2xx} non-2xx, ${r.errors} errors, ${r.requests} requests`);
  return r;
}

/** Warm-up, then the measured load and when it ran (monotonic µs). */
async function measureCase(
  server: Server,
  appliance: Appliance,
  load: Worker<LoadJob, LoadReply>,
  group: Group,
  settings: ProfileSettings,
): Promise<{ window: { fromUs: number; toUs: number }; result: LoadResult; involuntarySwitches: number }> {
  await whenReady(server, "/readyz");
  const template = job(group, REAL_JWT, { real: new Map([["real", { ...appliance, server }]]) });
  await drive(load, template, settings.warmupSeconds);
  const switches = contextSwitches(server.pid);
  const fromUs = monotonicUs();
  const result = await drive(load, template, settings.seconds);
  const toUs = monotonicUs();
  const involuntarySwitches = contextSwitches(server.pid).involuntary - switches.involuntary;
  return { window: { fromUs, toUs }, result, involuntarySwitches };
}

/** `node --cpu-prof <bundle> serve` on the provisioned data directory, one case, stopped with SIGTERM. */
async function profileCase(
  node: { bundle: string; locator: Locator; dir: string; keepDir: string },
  appliance: Appliance,
  load: Worker<LoadJob, LoadReply>,
  group: Group,
  settings: ProfileSettings,
): Promise<ProfiledCase> {
  const profileDir = join(node.dir, `profile-${group.op}`);
  const args = ["--cpu-prof", `--cpu-prof-dir=${profileDir}`, node.bundle, "serve"];
  const server = spawnServer(process.execPath, args, {
    cwd: appliance.cwd,
    env: appliance.env,
    port: appliance.server.port,
    logFile: join(appliance.cwd, `profile-${group.op}.log`),
  });
  const side = REAL_JWT;
  const measured = await measureCase(server, appliance, load, group, settings).catch((error: unknown) => ({ error }));
  const code = await server.stop();
  if ("error" in measured) throw measured.error;
  if (code !== 0) throw new Error(`${group.key}: the profiled server exited with ${code} on SIGTERM, not 0`);
  const { window, result, involuntarySwitches } = measured;
  const name = readdirSync(profileDir).find((f) => f.endsWith(".cpuprofile") && f.includes(`.${server.pid}.`));
  if (name === undefined) throw new Error(`${group.key}: no .cpuprofile of process ${server.pid} in ${profileDir}`);
  const profile = summarizeProfile(join(profileDir, name), node.locator, window, settings.top);
  // Kept for Chrome DevTools / speedscope: the whole run, start-up and warm-up included.
  const kept = join(node.keepDir, `http-profile-${group.op}.cpuprofile`);
  copyFileSync(join(profileDir, name), kept);
  console.log(`[http] profiled ${group.key} ${side.label}: ${profile.samples} samples, kept in ${kept}`);
  const involuntarySwitchesPerRequest = round(involuntarySwitches / result.requests, 3);
  return { case: group.key, side: side.label, load: result, involuntarySwitchesPerRequest, profileFile: kept, profile };
}

/**
 * Provisions one appliance in `dir`, then profiles each case of PROFILED in its own server run;
 * the profiles are copied to `keepDir` as http-profile-<op>.cpuprofile.
 */
export async function profileCases(
  bundle: string,
  dir: string,
  keepDir: string,
  settings: ProfileSettings,
): Promise<{ locations: string; cases: ProfiledCase[] }> {
  mkdirSync(keepDir, { recursive: true });
  const locator = bundleLocator(bundle);
  const appliance = await startAppliance([process.execPath, bundle], join(dir, "real"));
  await appliance.server.stop();
  const load = forkWorker<LoadJob, LoadReply>(join(import.meta.dirname, "load.ts"));
  try {
    const cases: ProfiledCase[] = [];
    for (const group of PROFILED)
      cases.push(await profileCase({ bundle, locator, dir, keepDir }, appliance, load, group, settings));
    return { locations: locator.method, cases };
  } finally {
    await load.stop();
  }
}
