/**
 * Start-up alone (`npm run bench -- startup`): exec of `node dist/vecto.cjs serve` to the first
 * /readyz 200, and RSS at ready and idle, on a data directory set up as bench/http.bench.ts sets
 * it up. The same timer as that bench's start-up section (bench/http/startup.ts), without the load.
 *
 * BENCH_STARTUP_BASELINE=<paths of other vecto.cjs or single binaries, comma-separated> starts
 * those too, interleaved run by run with this one on the same data directory, so a change is
 * compared within one run of the machine. A path ending in .cjs runs under this node, any other
 * is executed itself (a single binary built by appliance/build-sea.mjs, e.g. a copy of dist/vecto).
 * Keep a baseline bundle beside dist/vecto.cjs (e.g. dist/old.cjs): the bundle loads its native
 * packages from the node_modules above it. BENCH_STARTUP_RUNS (default 9) starts per bundle.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { startAppliance } from "./http/appliance.js";
import { ensureBundle } from "./http/build.js";
import { startupTable, summarizeStartup, type StartupRun } from "./http/report.js";
import { startOnce } from "./http/startup.js";

const IDLE_MS = 1000;

/** How to exec a bundle (under this node) or a single binary (itself). */
function command(path: string): string[] {
  return path.endsWith(".cjs") ? [process.execPath, path] : [path];
}

function runsSetting(): number {
  const raw = process.env.BENCH_STARTUP_RUNS ?? "9";
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 2)
    throw new Error(`BENCH_STARTUP_RUNS: expected a whole number above 1, got "${raw}"`);
  return n;
}

export async function run(): Promise<Record<string, unknown>> {
  const root = process.cwd();
  const others = (process.env.BENCH_STARTUP_BASELINE ?? "").split(",").filter((path) => path !== "");
  const bundles = [ensureBundle(root).path, ...others.map((path) => resolve(path))];
  const runs = runsSetting();
  const dir = await mkdtemp(join(tmpdir(), "vecto-bench-startup-"));
  try {
    const appliance = await startAppliance(command(bundles[0] ?? ""), join(dir, "real"));
    await appliance.server.stop();
    const results = bundles.map((): StartupRun[] => []);
    // Interleaved: every round starts each bundle once, the first one a bundle further each round.
    for (let round = 0; round < runs; round++)
      for (let k = 0; k < bundles.length; k++) {
        const i = (round + k) % bundles.length;
        results[i]?.push(await startOnce(command(bundles[i] ?? ""), appliance, IDLE_MS, `start-${i}.log`));
      }
    const startups = bundles.map((path, i) =>
      summarizeStartup(
        relative(root, path),
        `${path.endsWith(".cjs") ? "node " : ""}${relative(root, path)} serve`,
        results[i] ?? [],
      ),
    );
    console.log(`\n${startupTable(startups, [])}\n`);
    return {
      summary: startups.map((s) => ({ binary: s.binary, ...s.warm, firstMs: s.first.readyMs })),
      startups,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
