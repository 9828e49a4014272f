/** Shared test helpers: temp dirs, running the built CLI, HTTPS requests to a local server. */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createServer } from "node:net";
import { connect } from "node:tls";
import { Readable } from "node:stream";
import { extract } from "tar-stream";
import { onTestFinished } from "vitest";

export const ROOT = resolve(import.meta.dirname, "..");
export const CLI = join(ROOT, "dist", "vecto.cjs");

/** A fresh directory under the system temp dir (mode 0700, as mkdtemp makes it); the caller removes it with `cleanup`. */
export function tempDir(prefix = "vecto-test-"): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/**
 * A fresh directory (as `tempDir`) removed when the current test finishes, pass or fail. Call it in a
 * test, or in a function or `beforeEach` the test runs; outside a test vitest throws. Cleanups the
 * test registers later with `onTestFinished` (closing a database kept in the directory) run before
 * the removal: vitest runs them in reverse order. For a directory shared by a whole suite, use
 * `tempDir` and remove it in `afterAll`.
 */
export function testDir(prefix = "vecto-test-"): string {
  const dir = tempDir(prefix);
  try {
    onTestFinished(dir.cleanup);
  } catch (error) {
    dir.cleanup(); // called outside a test: leave nothing behind
    throw error;
  }
  return dir.path;
}

/** An environment with no VECTO_* leaking in from the developer's shell, and no /etc/vecto file. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (
      value !== undefined &&
      !key.startsWith("VECTO_") &&
      key !== "CREDENTIALS_DIRECTORY" &&
      key !== "CACHE_DIRECTORY" &&
      key !== "STATE_DIRECTORY"
    )
      env[key] = value;
  }
  return { ...env, VECTO_ENV_FILE: "/dev/null", VECTO_LOG_LEVEL: "info", ...extra };
}

export interface CliResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function runCli(args: string[], options: { cwd: string; env?: Record<string, string> }): CliResult {
  const result = spawnSync(process.execPath, [CLI, ...args], {
    cwd: options.cwd,
    env: cleanEnv(options.env),
    encoding: "utf8",
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolvePort(port));
    });
    server.on("error", reject);
  });
}

export interface HttpsResult {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** The fingerprint of the certificate a NEW TLS connection to 127.0.0.1:port is shown. */
export function newConnectionFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, rejectUnauthorized: false }, () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      socket.end();
      resolve(fingerprint);
    });
    socket.on("error", reject);
  });
}

export function httpsRequest(
  port: number,
  path: string,
  options: {
    method?: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
    maxVersion?: "TLSv1.2" | "TLSv1.3";
    minVersion?: "TLSv1.2" | "TLSv1.3";
    /** A client certificate and its key (PEM), for mutual TLS. */
    clientCert?: { cert: string; key: string };
  } = {},
): Promise<HttpsResult> {
  return new Promise((resolveRequest, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path,
        method: options.method ?? "GET",
        headers: options.headers,
        rejectUnauthorized: false,
        maxVersion: options.maxVersion,
        minVersion: options.minVersion,
        cert: options.clientCert?.cert,
        key: options.clientCert?.key,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        // A connection cut mid-answer (a killed server) rejects rather than leaving the promise pending.
        res.on("error", reject);
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () =>
          resolveRequest({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString("utf8"),
          }),
        );
      },
    );
    req.on("error", reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

/** Starts `vecto serve` as a child process and resolves once it logged that it listens. */
export async function startServe(
  cwd: string,
  env: Record<string, string>,
  args: string[] = [],
): Promise<{ child: ChildProcessWithoutNullStreams; stdout: () => string; stderr: () => string }> {
  const child = spawn(process.execPath, [CLI, "serve", ...args], { cwd, env: cleanEnv(env) });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  await new Promise<void>((resolveStart, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${out}${err}`)), 30_000);
    const check = (): void => {
      if (out.includes("vecto is listening")) {
        clearTimeout(timer);
        resolveStart();
      }
    };
    child.stdout.on("data", check);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}: ${out}${err}`));
    });
  });
  return { child, stdout: () => out, stderr: () => err };
}

/** Resolves once the output read by `output` has `count` lines containing `text` (a child's log line, say). */
export function waitForLines(
  child: ChildProcessWithoutNullStreams,
  output: () => string,
  text: string,
  count = 1,
): Promise<string[]> {
  const matching = (): string[] =>
    output()
      .split("\n")
      .filter((line) => line.includes(text));
  return new Promise((resolveLines, reject) => {
    const check = (): void => {
      if (matching().length < count) return;
      clearTimeout(timer);
      child.stdout.off("data", check);
      child.stderr.off("data", check);
      resolveLines(matching());
    };
    const timer = setTimeout(() => reject(new Error(`no ${count} line(s) with "${text}" in: ${output()}`)), 30_000);
    child.stdout.on("data", check);
    child.stderr.on("data", check);
    check();
  });
}

export function waitForExit(child: ChildProcessWithoutNullStreams): Promise<number | null> {
  return new Promise((resolveExit) => {
    if (child.exitCode !== null) return resolveExit(child.exitCode);
    child.on("exit", (code) => resolveExit(code));
  });
}

/** The files of a tar archive, by name, as UTF-8 text. */
export async function untar(archive: Buffer): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const tar = extract();
  tar.on("entry", (header, stream, next) => {
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", () => {
      files.set(header.name, Buffer.concat(chunks).toString("utf8"));
      next();
    });
  });
  await new Promise<void>((resolve, reject) => {
    tar.on("finish", resolve);
    tar.on("error", reject);
    Readable.from([archive]).pipe(tar);
  });
  return files;
}
