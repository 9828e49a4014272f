/**
 * What authentication costs per request: requests/s and latency of an authenticated
 * `GET /api/me` (once with a session access token, once with a personal access token) against
 * the unauthenticated `GET /healthz`, same run, same server, over real HTTPS (TLS 1.3) on
 * 127.0.0.1 with autocannon.
 *
 * The appliance runs in this process exactly as `vecto serve` wires it (temp data dir, real
 * database, master key, argon2, self-signed certificate). autocannon runs in one worker thread
 * so that its event loop is not the server's; it still shares the machine's cores with it.
 *
 * `/api/me` does more than authenticate: JWT verification (or PAT hash lookup), the session,
 * user and tenant rows, then decrypting the user's email and name for the response body. The
 * ratio is therefore an upper bound on the cost of authentication alone.
 *
 * The rate limiter's cost on that read: the same app built twice over one database, once with
 * the limiter on (limits set so high that no request is refused: what every request under the
 * limit pays, i.e. a SHA-256 of the bearer and two bucket updates) and once with it off. Over
 * HTTPS the two are served side by side; in-process (app.request, no TLS or sockets) they are
 * timed in alternating blocks, which is what isolates a cost this small on a shared machine.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { request } from "node:https";
import { autocannon } from "./autocannon.js";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { issueSetupToken } from "../src/auth/setup-token.js";
import { loadConfig } from "../src/config.js";
import { prepareForServe } from "../src/data-dir.js";
import { createLogger } from "../src/log.js";
import { Hono } from "hono";
import { buildApp } from "../src/server/app.js";
import type { AppEnv } from "../src/server/deps.js";
import { rateLimit } from "../src/server/middleware/rate-limit.js";
import { startServer, type RunningServer } from "../src/server/listen.js";
import { openServices, type Services } from "../src/services.js";
import { pair, round, type Stats } from "./stats.js";

const CONNECTIONS = 10;
const DURATION_S = 5;
const WARMUP_S = 1;
const PASSWORD = "violet-anchor-quartz-meadow-42";
/** Requests per minute that no run here reaches: the limiter does all its work and refuses nothing. */
const NEVER_REFUSED = 1_000_000_000;
const PAIRED_CALLS = 3_000;
const PAIRED_WARMUP = 300;
const PAIRED_BLOCK = 100;

interface Target {
  readonly label: string;
  readonly path: string;
  readonly token?: string;
}

interface Measurement {
  readonly label: string;
  readonly path: string;
  readonly requests: number;
  readonly reqPerSec: number;
  readonly latencyMs: { readonly average: number; readonly p50: number; readonly p99: number; readonly max: number };
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
}

function post(base: string, path: string, body: unknown, token?: string): Promise<unknown> {
  // Node's fetch has no per-request TLS option; node:https lets these few setup calls accept the
  // appliance's own self-signed certificate.
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = request(
      new URL(path, base),
      {
        method: "POST",
        rejectUnauthorized: false,
        headers: {
          "Content-Type": "application/json",
          "Content-Length": Buffer.byteLength(data),
          ...(token ? { Authorization: `Bearer ${token}` } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          if ((res.statusCode ?? 0) >= 300) reject(new Error(`POST ${path}: ${res.statusCode} ${text}`));
          else resolve(JSON.parse(text) as unknown);
        });
      },
    );
    req.on("error", reject);
    req.end(data);
  });
}

function limiterCost(on: Stats, off: Stats): Record<string, unknown> {
  return {
    label: "GET /api/me (session JWT) via app.request, rate limiter on vs off, alternating blocks",
    limiterOn: on,
    limiterOff: off,
    "opsPerSec on/off": round(on.opsPerSec / off.opsPerSec),
    costPerRequestMs: { mean: round(on.meanMs - off.meanMs, 4), p50: round(on.p50Ms - off.p50Ms, 4) },
  };
}

/**
 * The limiter by itself: two apps that differ only in the rate-limit middleware and answer a
 * constant, so a request costs microseconds and the limiter's share is not lost in the noise.
 */
async function limiterAloneCost(token: string): Promise<Record<string, unknown>> {
  const bare = (limited: boolean): Hono<AppEnv> => {
    const app = new Hono<AppEnv>();
    app.use("*", async (c, next) => {
      c.set("clientAddress", "192.0.2.1");
      await next();
    });
    if (limited) app.use("*", rateLimit({ perCredential: NEVER_REFUSED, perAddress: NEVER_REFUSED }));
    app.get("/x", (c) => c.text("ok"));
    return app;
  };
  const call = (app: Hono<AppEnv>) => async (): Promise<void> => {
    const res = await app.request("/x", { headers: { Authorization: `Bearer ${token}` } });
    if (res.status !== 200) throw new Error(`bare app: ${res.status}`);
    await res.arrayBuffer();
  };
  const { a, b } = await pair(call(bare(true)), call(bare(false)), 50_000, 5_000, 1_000);
  return {
    ...limiterCost(a, b),
    label: "minimal Hono app (constant answer) with vs without the rate-limit middleware, same bearer JWT",
  };
}

async function measure(base: string, target: Target): Promise<Measurement> {
  const result = await autocannon({
    url: new URL(target.path, base).href,
    method: "GET",
    ...(target.token ? { headers: { Authorization: `Bearer ${target.token}` } } : {}),
    connections: CONNECTIONS,
    duration: DURATION_S,
    warmup: { connections: CONNECTIONS, duration: WARMUP_S },
    workers: 1,
    tlsOptions: { rejectUnauthorized: false, minVersion: "TLSv1.3" },
  });
  const m: Measurement = {
    label: target.label,
    path: target.path,
    requests: result.requests.total,
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
  };
  // A run of 401s would measure the rejection path, not authentication: refuse to report it.
  if (m.non2xx > 0 || m.errors > 0 || m.requests === 0)
    throw new Error(`${target.label}: ${m.non2xx} non-2xx, ${m.errors} errors, ${m.requests} requests`);
  return m;
}

export async function run(): Promise<Record<string, unknown>> {
  const loadAtStart = round(loadavg()[0] ?? 0, 2);
  const dir = await mkdtemp(join(tmpdir(), "vecto-bench-identity-"));
  let services: Services | undefined;
  let server: RunningServer | undefined;
  let unlimitedServer: RunningServer | undefined;
  try {
    const config = loadConfig(
      { VECTO_ENV_FILE: "/dev/null", VECTO_DATA_DIR: join(dir, "data"), VECTO_LISTEN: "127.0.0.1:0" },
      dir,
    );
    const log = createLogger("silent");
    await prepareForServe(config, log);
    services = await openServices(config, log);
    // Spread, not listed field by field: whatever the composition root provides (db, identity, and
    // whatever later increments add to AppDeps) reaches the app exactly as in `vecto serve`.
    const limited = {
      trustedProxies: config.trustedProxies,
      rateLimit: { perCredential: NEVER_REFUSED, perAddress: NEVER_REFUSED },
    };
    const app = buildApp({ ...services, log, bodyLimitBytes: config.bodyLimitBytes, clients: limited });
    const unlimited = buildApp({
      ...services,
      log,
      bodyLimitBytes: config.bodyLimitBytes,
      clients: { ...limited, rateLimit: { perCredential: null, perAddress: null } },
    });
    const tls = { cert: await readFile(config.tls.certFile), key: await readFile(config.tls.keyFile) };
    server = await startServer(app, { listen: config.listen, redirectListen: null, tls, log });
    unlimitedServer = await startServer(unlimited, { listen: config.listen, redirectListen: null, tls, log });
    const base = `https://127.0.0.1:${server.address.port}`;
    const unlimitedBase = `https://127.0.0.1:${unlimitedServer.address.port}`;

    const { token: setupToken } = await issueSetupToken(services.db, 600);
    const email = "root@example.test";
    await post(base, "/api/setup", { token: setupToken, email, name: "Bench Root", password: PASSWORD });
    const { accessToken } = (await post(base, "/api/auth/login", { email, password: PASSWORD })) as {
      accessToken: string;
    };
    const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
    const { token: pat } = (await post(
      base,
      "/api/tokens",
      { name: "bench", scopes: ["self"], expiresAt },
      accessToken,
    )) as { token: string };

    const targets: [string, Target][] = [
      [base, { label: "GET /healthz (no auth)", path: "/healthz" }],
      [base, { label: "GET /api/me (session JWT)", path: "/api/me", token: accessToken }],
      [base, { label: "GET /api/me (personal token)", path: "/api/me", token: pat }],
      [unlimitedBase, { label: "GET /api/me (session JWT), rate limiter off", path: "/api/me", token: accessToken }],
      // Measured again after the limiter-off run, so that drift during the run shows rather than biasing one side.
      [base, { label: "GET /api/me (session JWT), rate limiter on, again", path: "/api/me", token: accessToken }],
    ];
    const measurements: Measurement[] = [];
    for (const [at, target] of targets) measurements.push(await measure(at, target));

    const read = (which: typeof app) => async (): Promise<void> => {
      const res = await which.request("/api/me", { headers: { Authorization: `Bearer ${accessToken}` } });
      if (res.status !== 200) throw new Error(`GET /api/me in-process: ${res.status}`);
      await res.arrayBuffer();
    };
    const paired = await pair(read(app), read(unlimited), PAIRED_CALLS, PAIRED_WARMUP, PAIRED_BLOCK);
    const limiterInProcess = limiterCost(paired.a, paired.b);
    const limiterAlone = await limiterAloneCost(accessToken);

    const [health, meJwt, mePat, meOff, meOnAgain] = measurements as [
      Measurement,
      Measurement,
      Measurement,
      Measurement,
      Measurement,
    ];
    const meOn = (meJwt.reqPerSec + meOnAgain.reqPerSec) / 2;
    const ratios = {
      "meJwt/healthz reqPerSec": round(meJwt.reqPerSec / health.reqPerSec, 3),
      "mePat/healthz reqPerSec": round(mePat.reqPerSec / health.reqPerSec, 3),
      "meJwt limiter on/off reqPerSec (mean of the two on runs)": round(meOn / meOff.reqPerSec, 3),
    };
    const summary = measurements.map((m) => ({
      target: m.label,
      "req/s": m.reqPerSec,
      "p50 ms": m.latencyMs.p50,
      "p99 ms": m.latencyMs.p99,
      "vs healthz": round(m.reqPerSec / health.reqPerSec, 3),
    }));
    return {
      note:
        `Load generator and server share this machine (${availableParallelism()} logical CPUs): the server runs on this process's main thread, ` +
        "autocannon in one worker thread of the same process, so both compete for the same cores and absolute numbers are lower than on a dedicated client. " +
        "Compare the rows with each other, not with other machines; a load average above 0 at start means other work was competing too. /api/me also reads and decrypts the user profile, so the ratio bounds the cost of authentication from above.",
      loadAverage1m: { atStart: loadAtStart, atEnd: round(loadavg()[0] ?? 0, 2), cpus: availableParallelism() },
      setup: {
        transport: "HTTPS, TLS 1.3, self-signed certificate, 127.0.0.1",
        connections: CONNECTIONS,
        durationSeconds: DURATION_S,
        warmupSeconds: WARMUP_S,
        autocannonWorkers: 1,
        pipelining: 1,
      },
      measurements,
      limiterInProcess,
      limiterAlone,
      ratios,
      summary,
    };
  } finally {
    await server?.close();
    await unlimitedServer?.close();
    services?.close();
    await rm(dir, { recursive: true, force: true });
  }
}
