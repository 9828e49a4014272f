/**
 * Every route of the app declares requireScope(...) unless it is on the short, explicit public
 * list (DESIGN.md "Identity and access"). The app is the real one, built by the identity fixture;
 * the route table is Hono's own (`app.routes`), so a route added anywhere is seen here.
 */
import { Hono, type MiddlewareHandler } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Authenticator } from "../../src/auth/authenticate.js";
import { requireScope, scopeDeclarations } from "../../src/server/middleware/require-scope.js";
import { identityFixture, type Fixture } from "../identity-fixture.js";

/** The only routes reachable without a credential. Each entry must exist (no stale entries). */
const PUBLIC_ROUTES: readonly string[] = [
  "GET /healthz",
  "GET /readyz",
  "GET /api/openapi.json",
  "POST /api/setup",
  "POST /api/auth/login",
  "POST /api/auth/refresh",
  "POST /api/auth/password-reset",
  // They answer 405 to anyone (MCP here has no event stream and no session); POST /mcp needs a token.
  "GET /mcp",
  "DELETE /mcp",
];

interface RouteEntry {
  readonly method: string;
  readonly path: string;
  readonly handler: unknown;
}

interface ScopeCheck {
  /** "METHOD /path" of every endpoint looked at (global middleware excluded). */
  readonly endpoints: readonly string[];
  /** Endpoints with no declared scope that are not public. */
  readonly undeclared: readonly string[];
  /** Public-list entries that match no endpoint. */
  readonly stalePublic: readonly string[];
  /** Public endpoints that nevertheless carry a scope (a contradiction in the list). */
  readonly publicButScoped: readonly string[];
}

/** Hono wraps a sub-app's handler when the sub-app has its own onError; the original is kept here. */
function unwrap(handler: unknown): unknown {
  let current = handler;
  while (typeof current === "function" && "__COMPOSED_HANDLER" in current)
    current = (current as { __COMPOSED_HANDLER: unknown }).__COMPOSED_HANDLER;
  return current;
}

function declares(handler: unknown): boolean {
  const h = unwrap(handler);
  return typeof h === "function" && scopeDeclarations.has(h as MiddlewareHandler);
}

const isGlobal = (r: RouteEntry): boolean => r.method === "ALL" && (r.path === "/*" || r.path === "*");

/** `app.use("/api/x/*", mw)` applies mw to every route under /api/x. */
function coveredBy(pattern: string, path: string): boolean {
  if (!pattern.endsWith("/*")) return pattern === path;
  const prefix = pattern.slice(0, -2);
  return path === prefix || path.startsWith(`${prefix}/`);
}

/** The checker: groups the route table by (method, path) and finds endpoints without a scope. */
function checkScopes(routes: readonly RouteEntry[], publicRoutes: readonly string[]): ScopeCheck {
  const wildcardMiddleware = routes.filter((r) => !isGlobal(r) && r.method === "ALL" && r.path.endsWith("/*"));
  const groups = new Map<string, RouteEntry[]>();
  for (const route of routes) {
    if (isGlobal(route) || wildcardMiddleware.includes(route)) continue;
    const key = `${route.method} ${route.path}`;
    groups.set(key, [...(groups.get(key) ?? []), route]);
  }
  const endpoints = [...groups.keys()].sort();
  const scoped = (key: string): boolean => {
    const entries = groups.get(key) ?? [];
    const path = entries[0]?.path ?? "";
    return (
      entries.some((r) => declares(r.handler)) ||
      wildcardMiddleware.some((m) => coveredBy(m.path, path) && declares(m.handler))
    );
  };
  return {
    endpoints,
    undeclared: endpoints.filter((key) => !publicRoutes.includes(key) && !scoped(key)),
    stalePublic: publicRoutes.filter((key) => !groups.has(key)),
    publicButScoped: publicRoutes.filter((key) => groups.has(key) && scoped(key)),
  };
}

describe("every route declares a scope", () => {
  let f: Fixture;

  beforeAll(async () => {
    f = await identityFixture();
  });
  afterAll(() => f.close());

  it("the real app: every non-public route has requireScope, and the public list is exact", () => {
    const result = checkScopes(f.app.routes, PUBLIC_ROUTES);
    console.log(
      `route scopes: ${result.endpoints.length} routes checked (${PUBLIC_ROUTES.length} public, ${result.endpoints.length - PUBLIC_ROUTES.length} scoped)`,
    );
    expect(result.endpoints.length).toBeGreaterThan(PUBLIC_ROUTES.length);
    expect(result.undeclared, "routes without requireScope that are not on the public list").toEqual([]);
    expect(result.stalePublic, "public-list entries that no longer exist").toEqual([]);
    expect(result.publicButScoped, "public-list entries that actually require a scope").toEqual([]);
  });

  it("every declared scope list names at least one scope", () => {
    for (const route of f.app.routes) {
      const handler = unwrap(route.handler);
      if (typeof handler !== "function" || !scopeDeclarations.has(handler as MiddlewareHandler)) continue;
      expect(
        scopeDeclarations.get(handler as MiddlewareHandler)?.length,
        `${route.method} ${route.path}`,
      ).toBeGreaterThan(0);
    }
  });

  it("the public routes really answer without a credential, and a scoped one does not", async () => {
    expect((await f.call("GET", "/healthz")).status).toBe(200);
    expect((await f.call("GET", "/readyz")).status).toBe(200);
    for (const path of ["/api/auth/login", "/api/auth/refresh", "/api/setup", "/api/auth/password-reset"])
      expect((await f.call("POST", path, { body: {} })).status).not.toBe(401);
    for (const key of checkScopes(f.app.routes, PUBLIC_ROUTES).endpoints.filter((k) => !PUBLIC_ROUTES.includes(k))) {
      const [method, path] = key.split(" ") as [string, string];
      const concrete = path.replace(/:[A-Za-z]+/g, "00000000-0000-4000-8000-000000000000");
      const res = await f.call(method, concrete, method === "GET" || method === "DELETE" ? {} : { body: {} });
      expect(res.status, key).toBe(401);
      expect(res.headers.get("content-type"), key).toMatch(/^application\/problem\+json/);
    }
  });

  it("the check can fail: an undeclared route, a stale public entry and a wildcard guard are told apart", () => {
    const authenticator = {} as Authenticator; // never called: the check only reads the route table
    const app = new Hono();
    app.use("*", async (_c, next) => next());
    app.get("/healthz", (c) => c.text("ok"));
    app.get("/api/declared", requireScope(authenticator, "self"), (c) => c.text("ok"));
    app.delete("/api/forgotten/:id", (c) => c.text("oops"));
    app.post(
      "/api/forgotten",
      async (_c, next) => next(),
      (c) => c.text("oops"),
    ); // a middleware, but not a scope
    app.use("/api/guarded/*", requireScope(authenticator, "graph:read"));
    app.get("/api/guarded/:id", (c) => c.text("ok"));
    const sub = new Hono();
    sub.onError((_e, c) => c.text("sub error", 500)); // Hono wraps these handlers on mount
    sub.get("/api/sub", requireScope(authenticator, "self"), (c) => c.text("ok"));
    sub.get("/api/sub-open", (c) => c.text("oops"));
    app.route("/", sub);

    const result = checkScopes(app.routes, ["GET /healthz", "GET /api/gone"]);
    expect(result.undeclared).toEqual(["DELETE /api/forgotten/:id", "GET /api/sub-open", "POST /api/forgotten"]);
    expect(result.stalePublic).toEqual(["GET /api/gone"]);
    expect(result.endpoints).toContain("GET /api/guarded/:id");
    expect(result.endpoints).toContain("GET /api/sub");
    expect(checkScopes(app.routes, ["GET /api/declared"]).publicButScoped).toEqual(["GET /api/declared"]);
  });
});
