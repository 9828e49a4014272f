/**
 * A real appliance in-process for identity tests: a fresh data dir, real database, real master
 * key file, real argon2, the real app; requests go through app.request (no socket). Helpers
 * drive it the way a client would: setup, login, create tenants and users.
 */
import { join } from "node:path";
import type { Hono } from "hono";
import { issueSetupToken } from "../src/auth/setup-token.js";
import type { Database } from "../src/db/db.js";
import type { TenantTx } from "../src/db/tenant-db.js";
import { loadConfig } from "../src/config.js";
import { prepareForServe } from "../src/data-dir.js";
import { createLogger, type Logger } from "../src/log.js";
import { buildApp } from "../src/server/app.js";
import { servedParts, type AppEnv } from "../src/server/deps.js";
import { openServices, type ServiceOptions, type Services } from "../src/services.js";
import { tempDir } from "./helpers.js";

export const STRONG_PASSWORD = "violet-anchor-quartz-meadow-42";

export interface Tokens {
  readonly accessToken: string;
  readonly refreshToken: string;
  readonly sessionId: string;
}

export interface Account {
  readonly id: string;
  readonly email: string;
  readonly password: string;
  readonly tokens: Tokens;
}

export interface TenantAccount {
  readonly tenantId: string;
  readonly slug: string;
  readonly admin: Account;
}

export interface Fixture {
  readonly app: Hono<AppEnv>;
  readonly services: Services;
  readonly root: Account;
  /** The one-time setup token the fixture set the appliance up with (spent by then). */
  readonly setupToken: string;
  /** The appliance's data directory (database, keystore, generated keys). */
  readonly dataDir: string;
  /** `address` plays the TCP peer address, as @hono/node-server would report it (no address: no peer, "unknown"). */
  call(
    method: string,
    path: string,
    options?: { token?: string; body?: unknown; headers?: Record<string, string>; address?: string },
  ): Promise<Response>;
  login(tenant: string | undefined, email: string, password: string, address?: string): Promise<Response>;
  createTenant(slug: string): Promise<TenantAccount>;
  createUser(
    admin: Account,
    input: { role: "tenant_admin" | "member" | "viewer"; kind?: "human" | "agent"; auditor?: boolean; email?: string },
    tenantSlug: string,
  ): Promise<Account>;
  /** Replaces a project's autonomy rules for agents (PUT /api/projects/:projectId/autonomy), as a tenant admin. */
  setAutonomy(admin: Account, projectId: string, rules: readonly AutonomyRuleInput[]): Promise<void>;
  close(): void;
}

/** One autonomy rule as the API takes it (docs/agents.md): null agent or task type means "any". */
export interface AutonomyRuleInput {
  readonly agentId: string | null;
  readonly taskType: string | null;
  readonly level: string;
}

let counter = 0;
function uniqueEmail(prefix: string): string {
  counter += 1;
  return `${prefix}${counter}@example.test`;
}

/**
 * `log` receives everything the appliance logs (services and requests); silent by default.
 * `vendorKeys` and `now` go to openServices, the product's own wiring (a test vendor key, a movable clock);
 * `now` also drives the rate limiter. `env` adds VECTO_* settings, read by the real loadConfig.
 */
export async function identityFixture(
  options: { log?: Logger; env?: Record<string, string> } & ServiceOptions = {},
): Promise<Fixture> {
  const dir = tempDir("vecto-identity-");
  const config = loadConfig(
    { ...options.env, VECTO_ENV_FILE: "/dev/null", VECTO_DATA_DIR: join(dir.path, "data") },
    dir.path,
  );
  const log = options.log ?? createLogger("silent");
  await prepareForServe(config, log);
  const services = await openServices(config, log, {
    ...(options.vendorKeys ? { vendorKeys: options.vendorKeys } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
  const clock = options.now;
  const app = buildApp({
    ...servedParts(services),
    log,
    bodyLimitBytes: config.bodyLimitBytes,
    clients: {
      trustedProxies: config.trustedProxies,
      rateLimit: config.rateLimit,
      ...(clock ? { now: () => clock().getTime() } : {}),
    },
  });

  const call: Fixture["call"] = (method, path, options = {}) => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token !== undefined) headers.Authorization = `Bearer ${options.token}`;
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    const env =
      options.address === undefined ? undefined : { incoming: { socket: { remoteAddress: options.address } } };
    return Promise.resolve(
      app.request(
        path,
        { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) },
        env,
      ),
    );
  };

  const login: Fixture["login"] = (tenant, email, password, address) =>
    call("POST", "/api/auth/login", {
      body: { ...(tenant ? { tenant } : {}), email, password },
      ...(address ? { address } : {}),
    });

  async function loggedIn(tenant: string | undefined, id: string, email: string, password: string): Promise<Account> {
    const res = await login(tenant, email, password);
    if (res.status !== 200) throw new Error(`login failed: ${res.status} ${await res.text()}`);
    return { id, email, password, tokens: (await res.json()) as Tokens };
  }

  const { token } = await issueSetupToken(services.db, 600);
  const rootEmail = uniqueEmail("root");
  const setup = await call("POST", "/api/setup", {
    body: { token, email: rootEmail, name: "Root Operator", password: STRONG_PASSWORD },
  });
  if (setup.status !== 201) throw new Error(`setup failed: ${setup.status} ${await setup.text()}`);
  const rootId = ((await setup.json()) as { user: { id: string } }).user.id;
  const root = await loggedIn(undefined, rootId, rootEmail, STRONG_PASSWORD);

  return {
    app,
    services,
    root,
    setupToken: token,
    dataDir: config.dataDir,
    call,
    login,
    async createTenant(slug) {
      const email = uniqueEmail(`admin-${slug}-`);
      const res = await call("POST", "/api/tenants", {
        token: root.tokens.accessToken,
        body: { slug, name: `Tenant ${slug}`, admin: { email, name: "Tenant Admin", password: STRONG_PASSWORD } },
      });
      if (res.status !== 201) throw new Error(`create tenant failed: ${res.status} ${await res.text()}`);
      const body = (await res.json()) as { tenant: { id: string }; admin: { id: string } };
      return { tenantId: body.tenant.id, slug, admin: await loggedIn(slug, body.admin.id, email, STRONG_PASSWORD) };
    },
    async createUser(admin, input, tenantSlug) {
      const email = input.email ?? uniqueEmail(input.role);
      const kind = input.kind ?? "human";
      const res = await call("POST", "/api/users", {
        token: admin.tokens.accessToken,
        body: {
          email,
          name: `User ${input.role}`,
          role: input.role,
          kind,
          auditor: input.auditor ?? false,
          ...(kind === "human" ? { password: STRONG_PASSWORD } : {}),
        },
      });
      if (res.status !== 201) throw new Error(`create user failed: ${res.status} ${await res.text()}`);
      const id = ((await res.json()) as { user: { id: string } }).user.id;
      if (kind === "agent")
        return { id, email, password: "", tokens: { accessToken: "", refreshToken: "", sessionId: "" } };
      return loggedIn(tenantSlug, id, email, STRONG_PASSWORD);
    },
    async setAutonomy(admin, projectId, rules) {
      const res = await call("PUT", `/api/projects/${projectId}/autonomy`, {
        token: admin.tokens.accessToken,
        body: { rules },
      });
      if (res.status !== 200) throw new Error(`set autonomy failed: ${res.status} ${await res.text()}`);
    },
    close() {
      services.close();
      dir.cleanup();
    },
  };
}

/**
 * Changes one tenant's rows behind the API's back (a planted password hash, a forged token row),
 * for tests of what the product does with such rows. It still goes through the one write path,
 * which takes no change without its event: the test is recorded as the actor.
 */
export async function behindTheApi<T>(db: Database, tenantId: string, fn: (tx: TenantTx) => T): Promise<T> {
  return db.write((tx) => {
    const result = fn(tx.tenant(tenantId));
    tx.audit({
      event: "user.updated",
      sensitivity: "security",
      severity: "warn",
      tenantId,
      actor: { type: "system", id: "test-behind-the-api" },
      payload: {},
    });
    return result;
  });
}

/**
 * An agent of the tenant, editor of the project, with an access token restricted to it (issued by
 * the tenant admin as a client would). Its autonomy is the project's to set (Fixture.setAutonomy).
 */
export async function agentInProject(
  f: Fixture,
  tenant: TenantAccount,
  projectId: string,
  scopes: readonly string[] = ["self", "graph:read", "graph:write"],
): Promise<{ id: string; token: string; tokenId: string }> {
  const admin = tenant.admin.tokens.accessToken;
  const agent = await f.createUser(tenant.admin, { role: "member", kind: "agent" }, tenant.slug);
  const member = await f.call("PUT", `/api/projects/${projectId}/members/${agent.id}`, {
    token: admin,
    body: { role: "editor" },
  });
  if (member.status !== 200) throw new Error(`add agent to project: ${member.status} ${await member.text()}`);
  const issued = await f.call("POST", `/api/users/${agent.id}/tokens`, {
    token: admin,
    body: { name: "agent", scopes, projectId, expiresAt: new Date(Date.now() + 86_400_000).toISOString() },
  });
  if (issued.status !== 201) throw new Error(`issue agent token: ${issued.status} ${await issued.text()}`);
  const body = (await issued.json()) as { token: string; id: string };
  return { id: agent.id, token: body.token, tokenId: body.id };
}
