/**
 * Tenant secrets (src/secrets/secrets.ts): write-only. No route returns a value; responses carry
 * metadata only. Only `secrets:manage` (tenant admins, never on a project-restricted token, so
 * never an agent's; never the platform root) reaches them. See docs/secrets.md.
 */
import type { Context } from "hono";
import { z } from "zod";
import {
  createSecret,
  deleteSecret,
  listSecrets,
  rotateSecret,
  SECRET_DESCRIPTION_MAX_CHARS,
  SECRET_NAME_PATTERN,
  SECRET_NAME_RULE,
  SECRET_VALUE_MAX_BYTES,
  secretValueProblem,
  type SecretView,
} from "../../secrets/secrets.js";
import type { AppDeps, AppEnv } from "../deps.js";
import { principalOf, tenantDbOf } from "../middleware/require-scope.js";
import { ApiRouter, defineRoute } from "../route.js";
import { ifMatchVersion } from "./params.js";
import { multilineSchema, pageSchema } from "./schemas.js";

const secretNameSchema = z.string().regex(SECRET_NAME_PATTERN, `name must be ${SECRET_NAME_RULE}`);

/** min/max document the bounds in characters; the refinement applies the byte bound and the text rules. Messages never quote the value. */
const secretValueSchema = z
  .string()
  .min(1, "value must not be empty")
  .max(SECRET_VALUE_MAX_BYTES, `value must be at most ${SECRET_VALUE_MAX_BYTES} bytes of UTF-8`)
  .superRefine((value, ctx) => {
    if (value.length === 0 || value.length > SECRET_VALUE_MAX_BYTES) return;
    const problem = secretValueProblem(value);
    if (problem) ctx.addIssue({ code: "custom", message: `value ${problem}` });
  })
  .meta({
    writeOnly: true,
    description: `the secret itself, 1-${SECRET_VALUE_MAX_BYTES} bytes of UTF-8 text without NUL; never returned by any route`,
  });

const descriptionSchema = multilineSchema({ min: 0, max: SECRET_DESCRIPTION_MAX_CHARS, trim: true }).meta({
  description: "what the secret is for (tenant content: stored encrypted, returned in listings)",
});

/** The response shape, documented: metadata only; there is no field a value could travel in. */
const secretViewSchema = z.strictObject({
  id: z.uuid(),
  name: z.string(),
  description: z.string().nullable(),
  version: z.number().int().min(1),
  createdBy: z.uuid(),
  createdAt: z.iso.datetime(),
  rotatedBy: z.uuid(),
  rotatedAt: z.iso.datetime(),
});
const oneSecret = z.strictObject({ secret: secretViewSchema });

const createSchema = z.strictObject({
  name: secretNameSchema,
  value: secretValueSchema,
  description: descriptionSchema.optional(),
});
const rotateSchema = z.strictObject({ value: secretValueSchema, description: descriptionSchema.optional() });

const tags = ["secrets"];
const manage = ["secrets:manage"] as const;
const pathParams = { name: secretNameSchema };

/** Metadata only, with the version as ETag for an optional If-Match on the next rotation. */
function secretResponse(c: Context<AppEnv>, secret: SecretView, status: 200 | 201): Response {
  c.header("ETag", `"${secret.version}"`);
  return c.json({ secret }, status);
}

export function secretRoutes(deps: AppDeps): ApiRouter {
  const router = new ApiRouter(deps.identity.authenticator);

  defineRoute(
    router,
    {
      method: "get",
      path: "/api/secrets",
      operationId: "listSecrets",
      reads: "sensitive",
      summary: "The tenant's secrets: metadata only, never a value",
      tags,
      scopes: manage,
      query: pageSchema,
      responses: {
        200: {
          description: "a page of secrets (by name)",
          schema: z.strictObject({ secrets: z.array(secretViewSchema) }),
        },
      },
    },
    async (c, { query }) =>
      c.json({ secrets: await listSecrets(deps.graph, tenantDbOf(deps, c), principalOf(c), query.after, query.limit) }),
  );

  defineRoute(
    router,
    {
      method: "post",
      path: "/api/secrets",
      operationId: "createSecret",
      summary: "Store a secret (write-only: the value is never returned)",
      tags,
      scopes: manage,
      body: createSchema,
      responses: {
        201: { description: "the secret's metadata, version 1 (ETag)", schema: oneSecret },
        409: { description: "the tenant has a secret of that name" },
      },
    },
    async (c, { body }) =>
      secretResponse(c, await createSecret(deps.graph, tenantDbOf(deps, c), principalOf(c), body), 201),
  );

  defineRoute(
    router,
    {
      method: "put",
      path: "/api/secrets/:name",
      operationId: "rotateSecret",
      summary: "Rotate a secret: replace its value, version + 1 (If-Match optional)",
      tags,
      scopes: manage,
      pathParams,
      body: rotateSchema,
      responses: {
        200: { description: "the secret's metadata at its new version (ETag)", schema: oneSecret },
        404: { description: "no secret of that name" },
        412: { description: "If-Match named a version that is no longer current" },
      },
    },
    async (c, { params, body }) =>
      secretResponse(
        c,
        await rotateSecret(deps.graph, tenantDbOf(deps, c), principalOf(c), params.name, body, ifMatchVersion(c)),
        200,
      ),
  );

  defineRoute(
    router,
    {
      method: "delete",
      path: "/api/secrets/:name",
      operationId: "deleteSecret",
      summary: "Delete a secret",
      tags,
      scopes: manage,
      pathParams,
      responses: { 204: { description: "the secret is gone" }, 404: { description: "no secret of that name" } },
    },
    async (c, { params }) => {
      await deleteSecret(deps.graph, tenantDbOf(deps, c), principalOf(c), params.name);
      return c.body(null, 204);
    },
  );

  return router;
}
