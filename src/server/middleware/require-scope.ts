/**
 * requireScope(...scopes): authenticates the request and lets it through only if the principal
 * holds every named scope. Every route declares one (a test enumerates the app's routes and
 * fails on any route without it that is not on the short public list); there is no bypass.
 */
import type { Context, MiddlewareHandler } from "hono";
import type { Authenticator } from "../../auth/authenticate.js";
import { InvalidTokenError } from "../../auth/jwt.js";
import type { Principal } from "../../auth/principal.js";
import type { Scope } from "../../vocabulary/roles.js";
import type { AppDeps, AppEnv } from "../deps.js";
import { ProblemError } from "../problem.js";

/** One tenant's data, as the door in AppDeps hands it out (src/server names no db type). */
type TenantDb = ReturnType<AppDeps["door"]["forTenant"]>;

/** The middlewares that declare a scope, so tests can find undeclared routes. */
export const scopeDeclarations = new WeakMap<MiddlewareHandler, readonly Scope[]>();

/** The auth-scheme is case-insensitive (RFC 7235 section 2.1); one space, then token68's charset. */
const BEARER = /^bearer ([A-Za-z0-9._~+/=-]{16,4096})$/i;

export function bearer(c: Context): string | undefined {
  const header = c.req.header("authorization");
  return header === undefined ? undefined : BEARER.exec(header)?.[1];
}

export function requireScope(authenticator: Authenticator, ...scopes: Scope[]): MiddlewareHandler<AppEnv> {
  const middleware: MiddlewareHandler<AppEnv> = async (c, next) => {
    const token = bearer(c);
    if (token === undefined) throw new ProblemError(401, "unauthorized", "a bearer token is required");
    let principal: Principal;
    try {
      principal = await authenticator.authenticate(token);
    } catch (error) {
      if (error instanceof InvalidTokenError)
        throw new ProblemError(401, "unauthorized", "the token is invalid or expired");
      throw error;
    }
    const missing = scopes.filter((s) => !principal.scopes.has(s));
    if (missing.length > 0) throw new ProblemError(403, "forbidden", `requires scope ${missing.join(", ")}`);
    c.set("principal", principal);
    await next();
  };
  scopeDeclarations.set(middleware as MiddlewareHandler, scopes);
  return middleware;
}

/** The authenticated principal; only valid behind requireScope. */
export function principalOf(c: Context<AppEnv>): Principal {
  const principal = c.get("principal");
  if (!principal) throw new Error("principalOf used on a route without requireScope");
  return principal;
}

/** The caller's tenant data; the platform tenant holds no tenant content, so its accounts get 403. */
export function tenantDbOf(deps: Pick<AppDeps, "door">, c: Context<AppEnv>): TenantDb {
  const scope = principalOf(c).tenantScope;
  if (!scope) throw new ProblemError(403, "forbidden", "this account holds no tenant data");
  return deps.door.forTenant(scope);
}

/** The caller's own account rows (sessions, tokens, notifications), the platform root's too. */
export function accountDbOf(deps: Pick<AppDeps, "door">, c: Context<AppEnv>): TenantDb {
  return deps.door.forTenant(principalOf(c).accountScope);
}
