/**
 * What setting the security headers costs per request, over real HTTP through @hono/node-server
 * (the adapter vecto serve uses): headers set before the handler (src/server/middleware/
 * security-headers.ts) against the way they were set until issue 15, hono's secureHeaders plus
 * `c.header("Cache-Control")` after the handler returned, which makes Hono copy the Response and
 * the adapter stream the copy's body.
 *
 * Both apps run the same chain around them (request id, access log to a discarding stream) and
 * answer the same small JSON; plain HTTP on 127.0.0.1, so TLS does not hide the difference. The
 * load comes from autocannon in a child process, so the server's CPU time (process.cpuUsage) is
 * its own: the figure is server CPU microseconds per request, the two sides interleaved.
 */
import { spawn } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createRequire } from "node:module";
import { Writable } from "node:stream";
import { getRequestListener } from "@hono/node-server";
import { Hono, type MiddlewareHandler } from "hono";
import { secureHeaders } from "hono/secure-headers";
import { createLogger } from "../src/log.js";
import { accessLog } from "../src/server/middleware/access-log.js";
import { requestId } from "../src/server/middleware/request-id.js";
import { securityHeaders } from "../src/server/middleware/security-headers.js";
import type { AppEnv } from "../src/server/deps.js";
import { round } from "./stats.js";

const ROUNDS = 4;
const DURATION_S = 3;
const CONNECTIONS = 10;
const PAYLOAD = { node: { id: "01JBENCHNODE00000000000000", type: "idea", title: "A title", version: 1 } };

/** The middleware as it was: headers set after the handler returned, the last one through c.header(). */
function headersAfterHandler(): MiddlewareHandler {
  const headers = secureHeaders({
    strictTransportSecurity: "max-age=63072000; includeSubDomains",
    contentSecurityPolicy: {
      defaultSrc: ["'self'"],
      objectSrc: ["'none'"],
      baseUri: ["'none'"],
      frameAncestors: ["'none'"],
      formAction: ["'self'"],
    },
    referrerPolicy: "no-referrer",
    xFrameOptions: "DENY",
    crossOriginOpenerPolicy: "same-origin",
    crossOriginResourcePolicy: "same-origin",
    xPermittedCrossDomainPolicies: "none",
    removePoweredBy: true,
  });
  return async (c, next) => {
    await headers(c, next);
    if (c.req.path.startsWith("/api/")) c.header("Cache-Control", "no-store");
  };
}

function app(headers: MiddlewareHandler): Hono<AppEnv> {
  const discard = new Writable({ write: (_chunk, _enc, done) => done() });
  const app = new Hono<AppEnv>();
  app.use("*", requestId(), headers, async (c, next) => {
    c.set("clientAddress", "127.0.0.1");
    await next();
  });
  app.use("*", accessLog(createLogger("info", discard)));
  app.get("/api/bench", (c) => c.json(PAYLOAD));
  return app;
}

async function serve(a: Hono<AppEnv>): Promise<{ server: Server; url: string }> {
  const server = createServer(getRequestListener(a.fetch));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/bench` };
}

interface Run {
  readonly requests: number;
  readonly reqPerSec: number;
  readonly cpuUsPerRequest: number;
}

/** autocannon in its own process, so that the CPU this process spends is the server's alone. */
function load(url: string): Promise<Run> {
  const bin = createRequire(import.meta.url).resolve("autocannon/autocannon.js");
  const started = process.cpuUsage();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, "-c", String(CONNECTIONS), "-d", String(DURATION_S), "-j", url], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.on("error", reject);
    child.on("close", () => {
      const cpu = process.cpuUsage(started);
      const result = JSON.parse(out) as { requests: { total: number; average: number }; non2xx: number };
      if (result.non2xx > 0) reject(new Error(`${result.non2xx} answers were not 2xx`));
      const total = result.requests.total;
      resolve({
        requests: total,
        reqPerSec: result.requests.average,
        cpuUsPerRequest: round((cpu.user + cpu.system) / total, 1),
      });
    });
  });
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

export async function run(): Promise<Record<string, unknown>> {
  const before = await serve(app(headersAfterHandler()));
  const after = await serve(app(securityHeaders()));
  const runs: { before: Run[]; after: Run[] } = { before: [], after: [] };
  try {
    // Untimed: both servers' code paths compiled before anything is measured.
    await load(before.url);
    await load(after.url);
    for (let i = 0; i < ROUNDS; i++) {
      // Alternate which side goes first, so neither always follows the other.
      const order = i % 2 === 0 ? (["before", "after"] as const) : (["after", "before"] as const);
      for (const side of order) runs[side].push(await load((side === "before" ? before : after).url));
    }
  } finally {
    before.server.close();
    after.server.close();
  }
  const summarise = (label: string, r: Run[]): Record<string, unknown> => ({
    label,
    "server CPU µs/request (median)": median(r.map((x) => x.cpuUsPerRequest)),
    "req/s (median)": median(r.map((x) => x.reqPerSec)),
  });
  const cpuBefore = median(runs.before.map((x) => x.cpuUsPerRequest));
  const cpuAfter = median(runs.after.map((x) => x.cpuUsPerRequest));
  return {
    summary: [
      summarise("headers set after the handler (until issue 15)", runs.before),
      summarise("headers set before the handler", runs.after),
    ],
    "CPU per request after/before": round(cpuAfter / cpuBefore),
    runs,
  };
}
