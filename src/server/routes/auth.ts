/** Sign-in (public), refresh (public: the refresh token is the credential), sign-out and who-am-I. */
import { getConnInfo } from "@hono/node-server/conninfo";
import { Hono, type Context } from "hono";
import { z } from "zod";
import { currentUser } from "../../auth/accounts.js";
import type { AppDeps, AppEnv } from "../app.js";
import { jsonBody } from "../json-body.js";
import { principalOf, requireScope } from "../middleware/require-scope.js";
import { emailSchema, passwordSchema, slugSchema } from "./schemas.js";

const loginSchema = z.strictObject({ tenant: slugSchema.optional(), email: emailSchema, password: passwordSchema });
const refreshSchema = z.strictObject({ refreshToken: z.string().min(16).max(200) });

/** The TCP peer; a proxy's X-Forwarded-For is not trusted (it is whatever the client says). */
function clientAddress(c: Context<AppEnv>): string {
  try {
    return getConnInfo(c).remote.address ?? "unknown";
  } catch {
    return "unknown";
  }
}

export function authRoutes(deps: AppDeps): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  const { sessions, authenticator, accounts } = deps.identity;

  routes.post("/api/auth/login", async (c) => {
    const input = await jsonBody(c, loginSchema);
    const pair = await sessions.login({ ...input, client: c.req.header("user-agent") ?? "", address: clientAddress(c) });
    return c.json(pair);
  });

  routes.post("/api/auth/refresh", async (c) => {
    const input = await jsonBody(c, refreshSchema);
    return c.json(await sessions.refresh(input.refreshToken));
  });

  routes.post("/api/auth/logout", requireScope(authenticator, "self"), async (c) => {
    await sessions.logout(principalOf(c));
    return c.body(null, 204);
  });

  routes.get("/api/me", requireScope(authenticator, "self"), async (c) => {
    const principal = principalOf(c);
    return c.json({
      user: await currentUser(accounts, principal),
      tenant: { id: principal.tenantId, kind: principal.tenantKind },
      scopes: [...principal.scopes].sort(),
      credential: principal.credential.kind,
      projectId: principal.projectId,
    });
  });

  return routes;
}
