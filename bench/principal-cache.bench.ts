/**
 * What the principal cache saves: `Authenticator.authenticate()` in a loop, with the principal
 * served from memory (the product's default) against the same call looking every row up as
 * before the cache (`cacheEntries: 0`), same run, same database, alternating blocks (stats.ts
 * pair) so that whatever else the machine does falls on both sides alike. Once with a session
 * access token (JWT verification stays on both sides), once with a personal access token.
 *
 * And the license gate on every change (`assertWritable`): what it did before on each call (a
 * SELECT of the installed license's sequence) against what it does now (PRAGMA data_version,
 * the look for another process's commit), and the gate's whole cost now.
 *
 * In-process (no TLS, no HTTP): the appliance as `vecto serve` wires it, in a temp data dir.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { Authenticator } from "../src/auth/authenticate.js";
import { issueSetupToken } from "../src/auth/setup-token.js";
import { loadConfig } from "../src/config.js";
import { prepareForServe } from "../src/data-dir.js";
import { createLogger } from "../src/log.js";
import { buildApp } from "../src/server/app.js";
import { servedParts } from "../src/server/deps.js";
import { openServices, type Services } from "../src/services.js";
import { pair, round, type Stats } from "./stats.js";

const PASSWORD = "violet-anchor-quartz-meadow-42";
const CALLS = 20_000;
const WARMUP = 2_000;
const BLOCK = 500;

async function call(
  app: ReturnType<typeof buildApp>,
  path: string,
  body: unknown,
  token?: string,
): Promise<Record<string, unknown>> {
  const res = await app.request(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  if (res.status >= 300) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as Record<string, unknown>;
}

function row(label: string, cached: Stats, uncached: Stats): Record<string, unknown> {
  return {
    label,
    cachedOpsPerSec: cached.opsPerSec,
    uncachedOpsPerSec: uncached.opsPerSec,
    cachedMeanUs: round(cached.meanMs * 1000, 1),
    uncachedMeanUs: round(uncached.meanMs * 1000, 1),
    speedup: round(uncached.meanMs / cached.meanMs, 2),
  };
}

export async function run(): Promise<Record<string, unknown>> {
  const loadAtStart = round(loadavg()[0] ?? 0, 2);
  const dir = await mkdtemp(join(tmpdir(), "vecto-bench-principal-"));
  let services: Services | undefined;
  try {
    const config = loadConfig({ VECTO_ENV_FILE: "/dev/null", VECTO_DATA_DIR: join(dir, "data") }, dir);
    const log = createLogger("silent");
    await prepareForServe(config, log);
    services = await openServices(config, log);
    const app = buildApp({
      ...servedParts(services),
      log,
      bodyLimitBytes: config.bodyLimitBytes,
      clients: { trustedProxies: config.trustedProxies, rateLimit: { perCredential: null, perAddress: null } },
    });
    const { token: setupToken } = await issueSetupToken(services.db, 600);
    const email = "root@example.test";
    await call(app, "/api/setup", { token: setupToken, email, name: "Bench Root", password: PASSWORD });
    const { accessToken } = (await call(app, "/api/auth/login", { email, password: PASSWORD })) as {
      accessToken: string;
    };
    const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
    const { token: pat } = (await call(
      app,
      "/api/tokens",
      { name: "bench", scopes: ["self"], expiresAt },
      accessToken,
    )) as {
      token: string;
    };

    const { db, identity, license } = services;
    const cached = identity.authenticator;
    const uncached = new Authenticator(db, identity.accessTokens, () => new Date(), { cacheEntries: 0 });
    const authenticate = (who: Authenticator, bearer: string) => async (): Promise<void> => {
      await who.authenticate(bearer);
    };
    const session = await pair(
      authenticate(cached, accessToken),
      authenticate(uncached, accessToken),
      CALLS,
      WARMUP,
      BLOCK,
    );
    const token = await pair(authenticate(cached, pat), authenticate(uncached, pat), CALLS, WARMUP, BLOCK);
    // The gate's one difference from before: it asked the database for the installed license's
    // sequence at every call; now it looks whether another connection committed (data_version).
    const gate = await pair(
      async () => db.watchedRows.sync(),
      async () => void db.licensing.currentSequence(),
      CALLS,
      WARMUP,
      BLOCK,
    );
    const gateNow = await pair(
      async () => license.assertWritable(),
      async () => license.assertWritable(),
      CALLS,
      WARMUP,
      BLOCK,
    );
    return {
      loadAtStart,
      calls: CALLS,
      summary: [
        row("authenticate(), session JWT", session.a, session.b),
        row("authenticate(), personal token", token.a, token.b),
        row("license gate's look: data_version (now) vs sequence SELECT (before)", gate.a, gate.b),
        { label: "license gate now (assertWritable)", meanUs: round(gateNow.a.meanMs * 1000, 1) },
      ],
      raw: { session, token, gate, gateNow: gateNow.a },
    };
  } finally {
    services?.close();
    await rm(dir, { recursive: true, force: true });
  }
}
