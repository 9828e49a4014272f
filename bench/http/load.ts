/**
 * The load process of bench/http.bench.ts (child_process.fork, IPC): runs autocannon jobs one at a
 * time, each against the server it names, and reads that server's CPU time from /proc just before
 * and just after, so that CPU per request counts the server's work only. Its own process: its
 * event loop is neither server's (it still shares the machine's cores with them).
 */
import { autocannon, type AutocannonOptions, type AutocannonRequest } from "../autocannon.js";
import { round } from "../stats.js";
import { cpuMs } from "./proc.js";
import type { LoadJob, LoadReply, LoadResult } from "./protocol.js";

/**
 * The request autocannon repeats, rebuilt per request when it varies: reads go round the paths;
 * creates get a fresh number for "[<id>]" in the body. (autocannon's own idReplacement leaves
 * Content-Length at the template's length, so the server waits for bytes that never come.)
 */
function request(job: LoadJob): AutocannonRequest {
  const first = job.paths[0];
  if (first === undefined) throw new Error("a load job needs at least one path");
  const { body } = job;
  let next = 0;
  if (body !== undefined)
    return {
      method: job.method,
      path: first,
      body,
      setupRequest: (req) => ({ ...req, body: body.replace("[<id>]", String(next++)) }),
    };
  if (job.paths.length === 1) return { method: job.method, path: first };
  return {
    method: job.method,
    path: first,
    setupRequest: (req) => ({ ...req, path: job.paths[next++ % job.paths.length] ?? first }),
  };
}

async function runJob(job: LoadJob): Promise<LoadResult> {
  const options: AutocannonOptions = {
    url: job.origin,
    method: job.method,
    headers: job.headers,
    requests: [request(job)],
    connections: job.connections,
    duration: job.seconds,
    pipelining: 1,
    tlsOptions: { rejectUnauthorized: false, minVersion: "TLSv1.3" },
  };
  const cpuBefore = cpuMs(job.serverPid);
  const ownBefore = process.cpuUsage();
  const result = await autocannon(options);
  const serverCpuMs = cpuMs(job.serverPid) - cpuBefore;
  const own = process.cpuUsage(ownBefore);
  return {
    requests: result.requests.total,
    seconds: result.duration,
    reqPerSec: round(result.requests.total / result.duration, 1),
    latencyMs: {
      average: round(result.latency.average, 2),
      p50: result.latency.p50,
      p99: result.latency.p99,
      max: result.latency.max,
    },
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    serverCpuMs,
    loadCpuMs: round((own.user + own.system) / 1000, 1),
  };
}

process.on("message", (job: LoadJob) => {
  const reply = (message: LoadReply): void => {
    process.send?.(message);
  };
  runJob(job).then(
    (result) => reply({ type: "result", id: job.id, result }),
    (error: unknown) =>
      reply({ type: "error", id: job.id, message: error instanceof Error ? error.message : String(error) }),
  );
});
