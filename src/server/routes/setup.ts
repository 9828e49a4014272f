/** POST /api/setup: the first platform root, with the one-time setup token. Public, and works once. */
import { z } from "zod";
import type { AppDeps } from "../deps.js";
import { ApiRouter, defineRoute } from "../route.js";
import { emailSchema, nameSchema, passwordSchema } from "./schemas.js";

const setupSchema = z.strictObject({
  token: z.string().min(1).max(200),
  email: emailSchema,
  name: nameSchema,
  password: passwordSchema,
});

export function setupRoutes(deps: AppDeps): ApiRouter {
  const router = new ApiRouter(deps.identity.authenticator);
  defineRoute(
    router,
    {
      method: "post",
      path: "/api/setup",
      operationId: "completeSetup",
      summary: "Create the first platform root with the one-time setup token",
      tags: ["setup"],
      scopes: "public",
      body: setupSchema,
      responses: {
        201: { description: "the platform root was created" },
        401: { description: "the setup token is invalid, expired or used" },
        409: { description: "setup is already complete" },
        422: { description: "the body does not match the schema, or the password is too weak" },
      },
    },
    async (c, { body }) => {
      const root = await deps.identity.accounts.completeSetup(body.token, {
        email: body.email,
        name: body.name,
        password: body.password,
      });
      return c.json({ user: root }, 201);
    },
  );
  return router;
}
