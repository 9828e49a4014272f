/**
 * Start-up of `vecto serve` on an existing data directory: from just before exec to the first
 * GET /readyz that answers 200 (polled every 5 ms over HTTPS), the CPU time the server used until
 * then (all its threads: less disturbed than the wall time by other work on the machine), and the
 * resident memory at that moment and after the server has sat idle for a while. The server is stopped with SIGTERM after
 * each run, as systemd stops it.
 */
import { join } from "node:path";
import type { Appliance } from "./appliance.js";
import { cpuMs, rssMiB, rssPartsMiB } from "./proc.js";
import { spawnServer, whenReady } from "./processes.js";
import type { StartupRun } from "./report.js";

export async function startOnce(
  command: readonly string[],
  appliance: Appliance,
  idleMs: number,
  logName: string,
): Promise<StartupRun> {
  const [file = "", ...prefix] = command;
  const started = performance.now();
  const server = spawnServer(file, [...prefix, "serve"], {
    cwd: appliance.cwd,
    env: appliance.env,
    port: appliance.server.port,
    logFile: join(appliance.cwd, logName),
  });
  try {
    const ready = await whenReady(server, "/readyz", 60_000, 5);
    const rssAtReadyMiB = rssMiB(server.pid);
    const cpuAtReadyMs = cpuMs(server.pid);
    await new Promise((resolve) => setTimeout(resolve, idleMs));
    const rssIdleMiB = rssMiB(server.pid);
    const idle = rssPartsMiB(server.pid);
    return {
      readyMs: ready - started,
      cpuAtReadyMs,
      rssAtReadyMiB,
      rssIdleMiB,
      rssIdleAnonMiB: idle.anon,
      rssIdleFileMiB: idle.file,
      exitCode: await server.stop(),
    };
  } finally {
    await server.stop();
  }
}

export async function startRuns(
  command: readonly string[],
  appliance: Appliance,
  runs: number,
  idleMs: number,
  logName: string,
): Promise<StartupRun[]> {
  const results: StartupRun[] = [];
  for (let i = 0; i < runs; i++) results.push(await startOnce(command, appliance, idleMs, logName));
  return results;
}
