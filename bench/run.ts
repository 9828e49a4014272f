/**
 * Runs every bench/*.bench.ts module (or those named on the command line:
 * `npm run bench -- crypto`), writes bench/results/<name>.json and prints a summary.
 * Paths are resolved from the working directory: npm runs scripts from the package root.
 */
import { mkdir, readdir, writeFile } from "node:fs/promises";
import { cpus } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

interface BenchModule {
  run(): Promise<Record<string, unknown>>;
  /** The name of its results file when not its own (a mode of the bench that must not replace its results). */
  resultsName?(): string;
}

const BENCH_DIR = resolve(process.cwd(), "bench");
const RESULTS_DIR = join(BENCH_DIR, "results");
const SUFFIX = ".bench.ts";

async function benchNames(filter: readonly string[]): Promise<string[]> {
  const names = (await readdir(BENCH_DIR))
    .filter((f) => f.endsWith(SUFFIX))
    .map((f) => f.slice(0, -SUFFIX.length))
    .sort();
  return filter.length === 0 ? names : names.filter((n) => filter.includes(n));
}

function isBenchModule(mod: unknown): mod is BenchModule {
  return typeof (mod as Partial<BenchModule> | null)?.run === "function";
}

function environment(): Record<string, unknown> {
  return { node: process.version, platform: `${process.platform}-${process.arch}`, cpu: cpus()[0]?.model ?? "unknown" };
}

async function runOne(name: string): Promise<void> {
  const mod: unknown = await import(pathToFileURL(join(BENCH_DIR, name + SUFFIX)).href);
  if (!isBenchModule(mod)) throw new Error(`bench/${name}${SUFFIX} does not export run()`);
  const started = performance.now();
  const results = await mod.run();
  const seconds = (performance.now() - started) / 1000;
  const doc = { name, date: new Date().toISOString(), seconds, environment: environment(), results };
  const file = mod.resultsName?.() ?? name;
  await writeFile(join(RESULTS_DIR, `${file}.json`), JSON.stringify(doc, null, 2) + "\n");
  console.log(`\n[${name}] ${seconds.toFixed(1)} s -> bench/results/${file}.json`);
  const summary = results["summary"];
  if (Array.isArray(summary)) console.table(summary);
  else console.log(JSON.stringify(results, null, 2));
}

async function main(): Promise<void> {
  const names = await benchNames(process.argv.slice(2));
  if (names.length === 0) throw new Error("no matching bench/*.bench.ts modules");
  await mkdir(RESULTS_DIR, { recursive: true });
  let failed = 0;
  for (const name of names) {
    try {
      await runOne(name);
    } catch (err) {
      failed++;
      console.error(`[${name}] failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (failed > 0) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});
