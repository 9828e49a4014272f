/** POST /api/setup: the first platform root, with the one-time setup token. Public, and works once. */
import { Hono } from "hono";
import { z } from "zod";
import { completeSetup } from "../../auth/accounts.js";
import type { AppDeps, AppEnv } from "../app.js";
import { jsonBody } from "../json-body.js";
import { emailSchema, nameSchema, passwordSchema } from "./schemas.js";

const setupSchema = z.strictObject({ token: z.string().min(1).max(200), email: emailSchema, name: nameSchema, password: passwordSchema });

export function setupRoutes(deps: AppDeps): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  routes.post("/api/setup", async (c) => {
    const input = await jsonBody(c, setupSchema);
    const root = await completeSetup(deps.identity.accounts, input.token, { email: input.email, name: input.name, password: input.password });
    return c.json({ user: root }, 201);
  });
  return routes;
}
