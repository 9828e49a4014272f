/** Starting, watching and stopping the processes of bench/http.bench.ts. */
import { fork, spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { client } from "./client.js";

/** tsx, as `npm run bench` runs bench/run.ts: the children are TypeScript too. Resolved here: a child may run elsewhere. */
export const TSX = ["--import", import.meta.resolve("tsx")];

export interface Server {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly port: number;
  readonly logFile: string;
  /** SIGTERM, then SIGKILL if it has not exited within 15 s; resolves with its exit code. */
  stop(): Promise<number | null>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

/** The environment without the caller's VECTO_* settings (as test/helpers.ts cleanEnv), plus `extra`. */
export function cleanEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env))
    if (value !== undefined && !key.startsWith("VECTO_") && !key.startsWith("BENCH_")) env[key] = value;
  return { ...env, ...extra };
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

const live = new Set<ChildProcess>();
// A bench that fails half-way leaves no server behind.
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

function track(child: ChildProcess): ChildProcess {
  live.add(child);
  child.once("exit", () => live.delete(child));
  return child;
}

async function stopChild(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
  const code = await exited(child);
  clearTimeout(timer);
  return code;
}

/**
 * Spawns a server process with stdout and stderr going to `logFile` (the appliance logs every
 * request: a file drains that as fast as the journal would, and stays readable when it fails).
 */
export function spawnServer(
  command: string,
  args: readonly string[],
  options: { cwd: string; env: Record<string, string>; port: number; logFile: string },
): Server {
  const fd = openSync(options.logFile, "a");
  const child = track(spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ["ignore", fd, fd] }));
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`could not start ${command}`);
  return {
    child,
    pid: child.pid,
    port: options.port,
    logFile: options.logFile,
    stop: () => stopChild(child),
  };
}

function lastLines(file: string): string {
  return readFileSync(file, "utf8").trimEnd().split("\n").slice(-10).join("\n");
}

/**
 * Polls GET `path` every `intervalMs` until it answers 200; resolves with performance.now() of that
 * answer. Fails when the server exits or `timeoutMs` passes, with the end of its log.
 */
export async function whenReady(server: Server, path: string, timeoutMs = 60_000, intervalMs = 5): Promise<number> {
  const call = client(server.port);
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (server.child.exitCode !== null || server.child.signalCode !== null)
      throw new Error(
        `server exited (${server.child.exitCode ?? server.child.signalCode}):\n${lastLines(server.logFile)}`,
      );
    const status = await call("GET", path).then(
      (res) => res.status,
      () => 0,
    );
    if (status === 200) return performance.now();
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`server not ready on ${path} after ${timeoutMs} ms:\n${lastLines(server.logFile)}`);
}

/** A TypeScript module of bench/http/ as a child process with an IPC channel. */
export interface Worker<Command, Reply> {
  readonly pid: number;
  /** Sends `command` and resolves with the first reply `accept` takes. */
  ask(command: Command, accept: (reply: Reply) => boolean): Promise<Reply>;
  send(command: Command): void;
  stop(): Promise<number | null>;
}

export function forkWorker<Command, Reply>(module: string): Worker<Command, Reply> {
  const child = track(fork(module, [], { execArgv: TSX, stdio: ["ignore", "inherit", "inherit", "ipc"] }));
  if (child.pid === undefined) throw new Error(`could not start ${module}`);
  return {
    pid: child.pid,
    send(command) {
      child.send(command as object);
    },
    ask(command, accept) {
      return new Promise((resolve, reject) => {
        const onMessage = (reply: Reply): void => {
          if (!accept(reply)) return;
          child.off("message", onMessage);
          child.off("exit", onExit);
          resolve(reply);
        };
        const onExit = (code: number | null): void => {
          child.off("message", onMessage);
          reject(new Error(`${module} exited with ${code}`));
        };
        child.on("message", onMessage);
        child.once("exit", onExit);
        child.send(command as object);
      });
    },
    stop: () => {
      child.disconnect();
      return stopChild(child);
    },
  };
}
