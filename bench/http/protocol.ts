/** The messages bench/http.bench.ts exchanges with its load and login-storm processes (IPC of child_process.fork). */

/** One measured run: autocannon against one server, with the server's CPU read around it. */
export interface LoadJob {
  readonly type: "run";
  readonly id: number;
  /** https://127.0.0.1:<port> */
  readonly origin: string;
  readonly method: "GET" | "POST";
  /** Visited in turn, one per request (reads spread over many rows); a single path for creates. */
  readonly paths: readonly string[];
  readonly headers: Readonly<Record<string, string>>;
  /** A JSON body; its "[<id>]" becomes a fresh number per request. */
  readonly body?: string;
  readonly connections: number;
  readonly seconds: number;
  /** The server process whose utime+stime is read just before and just after the run. */
  readonly serverPid: number;
}

export interface LoadResult {
  readonly requests: number;
  readonly seconds: number;
  readonly reqPerSec: number;
  readonly latencyMs: { readonly average: number; readonly p50: number; readonly p99: number; readonly max: number };
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
  /** Server CPU (user + system, all threads) during the run, in ms. */
  readonly serverCpuMs: number;
  /** This load process's own CPU during the run, in ms: near the run's length, it was the limit, not the server. */
  readonly loadCpuMs: number;
}

export type LoadReply =
  | { readonly type: "result"; readonly id: number; readonly result: LoadResult }
  | { readonly type: "error"; readonly id: number; readonly message: string };

/** Starts the storm: `concurrency` loops of POST /api/auth/login with `body`, until "stop". */
export interface StormStart {
  readonly type: "start";
  readonly origin: string;
  readonly body: string;
  readonly concurrency: number;
}

export type StormCommand = StormStart | { readonly type: "stop" };

export type StormReply =
  | { readonly type: "started" }
  | { readonly type: "stopped"; readonly logins: number; readonly failures: number; readonly seconds: number }
  | { readonly type: "error"; readonly message: string };
