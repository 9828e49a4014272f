/**
 * The OpenAPI 3.1 document, built from the route specs (src/server/route.ts) and their zod
 * schemas: the same objects that validate the requests, converted with zod's own
 * z.toJSONSchema (JSON Schema 2020-12, OpenAPI 3.1's dialect). There is no hand-kept copy.
 */
import { z } from "zod";
import type { Authenticator } from "../auth/authenticate.js";
import { VERSION } from "../version.js";
import { allowedWhileReadOnly } from "./middleware/license-guard.js";
import { PROBLEM_CONTENT_TYPE } from "./problem.js";
import {
  ApiRouter,
  defineRoute,
  pathParamNames,
  type ApiRegistry,
  type ResponseSpec,
  type RouteSpec,
} from "./route.js";

export type JsonSchema = z.core.JSONSchema.BaseSchema;

/** Request bodies and queries are documented as the client writes them: defaults optional, transforms as their input. */
export const REQUEST_SCHEMA_OPTIONS = {
  io: "input",
  unrepresentable: "any",
} as const satisfies z.core.ToJSONSchemaParams;
/** Responses as the server sends them; a transform's output has no JSON Schema and becomes `{}`. */
export const RESPONSE_SCHEMA_OPTIONS = {
  io: "output",
  unrepresentable: "any",
} as const satisfies z.core.ToJSONSchemaParams;

export const DOCUMENT_PATH = "/api/openapi.json";
const SECURITY_SCHEME = "bearerAuth";
const PROBLEM_REF = { $ref: "#/components/schemas/Problem" } as const;

/** RFC 9457 problem details, as src/server/problem.ts writes them. */
export const problemSchema = z
  .looseObject({
    type: z.string().describe("stable URN, urn:vecto:problem:<kind> (docs/problems.md)"),
    title: z.string(),
    status: z.number().int().min(100).max(599),
    detail: z.string().optional().describe("what was wrong, safe to show"),
    instance: z.string().optional(),
    requestId: z.string().optional().describe("quote it to an administrator"),
    errors: z
      .array(z.strictObject({ path: z.string(), message: z.string() }))
      .optional()
      .describe("per-field errors of a 422"),
  })
  .describe("RFC 9457 problem details");

interface MediaType {
  readonly schema?: JsonSchema;
}

interface ResponseObject {
  readonly description: string;
  readonly content?: Readonly<Record<string, MediaType>>;
}

export interface Parameter {
  readonly name: string;
  readonly in: "path" | "query";
  readonly required: boolean;
  readonly schema: JsonSchema;
  readonly description?: string;
}

export interface Operation {
  readonly operationId: string;
  readonly summary: string;
  readonly description: string;
  readonly tags: readonly string[];
  readonly parameters?: readonly Parameter[];
  readonly requestBody?: {
    readonly required: true;
    readonly content: { readonly "application/json": { readonly schema: JsonSchema } };
  };
  readonly responses: Readonly<Record<string, ResponseObject>>;
  readonly security: readonly Readonly<Record<string, readonly string[]>>[];
  readonly "x-required-scopes": readonly string[];
}

export interface OpenApiDocument {
  readonly openapi: "3.1.0";
  readonly info: { readonly title: string; readonly version: string; readonly description: string };
  readonly servers: readonly { readonly url: string }[];
  readonly tags: readonly { readonly name: string }[];
  readonly security: readonly Readonly<Record<string, readonly string[]>>[];
  readonly paths: Readonly<Record<string, Readonly<Record<string, Operation>>>>;
  readonly components: {
    readonly schemas: Readonly<Record<string, JsonSchema>>;
    readonly securitySchemes: Readonly<Record<string, Readonly<Record<string, string>>>>;
  };
}

/** `/api/projects/:projectId` → `/api/projects/{projectId}`. */
export function openApiPath(honoPath: string): string {
  return honoPath.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
}

function problemResponse(description: string): ResponseObject {
  return { description, content: { [PROBLEM_CONTENT_TYPE]: { schema: PROBLEM_REF } } };
}

/** The error responses every route of a kind shares, so no route can forget to document them. */
function standardErrors(spec: RouteSpec): Record<string, ResponseObject> {
  const errors: Record<string, ResponseObject> = {};
  const bad: string[] = [];
  if (spec.body) bad.push("the body is not valid JSON or nests too deeply");
  if (spec.query) bad.push("a query parameter is invalid or unknown");
  if (bad.length > 0) errors["400"] = problemResponse(bad.join("; "));
  if (spec.scopes !== "public") {
    errors["401"] = problemResponse("no bearer token, or it is invalid or expired");
    errors["403"] = problemResponse(`the credential lacks a required scope (${spec.scopes.join(", ")})`);
  }
  if (pathParamNames(spec.path).length > 0)
    errors["404"] = problemResponse("no such resource, or not visible to the caller");
  if (!allowedWhileReadOnly(spec.method, spec.path))
    errors["402"] = problemResponse(
      "the license expired and its grace period ended: the appliance is read-only for changes until a renewed license is installed (license-read-only)",
    );
  if (spec.path !== "/healthz" && spec.path !== "/readyz")
    errors["429"] = problemResponse(
      "too many requests from this credential or address (rate limit); Retry-After says when to try again",
    );
  if (spec.body) {
    errors["413"] = problemResponse("the body is larger than the configured limit");
    errors["415"] = problemResponse("the body is not application/json");
    errors["422"] = problemResponse("the body does not match the schema; `errors` lists each field");
  }
  return errors;
}

function ownResponse(status: number, response: ResponseSpec): ResponseObject {
  if (status >= 400) return problemResponse(response.description);
  if (status === 204) return { description: response.description };
  const schema = response.schema ? z.toJSONSchema(response.schema, RESPONSE_SCHEMA_OPTIONS) : undefined;
  return { description: response.description, content: { "application/json": schema ? { schema } : {} } };
}

function responses(spec: RouteSpec): Record<string, ResponseObject> {
  const own = Object.entries(spec.responses).map(
    ([status, response]) => [status, ownResponse(Number(status), response)] as const,
  );
  // The route's own words win over the generic ones for the same status.
  return { ...standardErrors(spec), ...Object.fromEntries(own) };
}

function queryParameters(query: z.ZodType): Parameter[] {
  const schema = z.toJSONSchema(query, REQUEST_SCHEMA_OPTIONS);
  const required = new Set(schema.required ?? []);
  return Object.entries(schema.properties ?? {}).flatMap(([name, property]) =>
    typeof property === "boolean"
      ? []
      : [{ name, in: "query" as const, required: required.has(name), schema: property }],
  );
}

/** A path parameter's schema: the route's own (e.g. a secret's name), else a UUID. */
export function pathParamSchema(spec: RouteSpec, name: string): JsonSchema {
  const own: Readonly<Record<string, z.ZodType<string> | undefined>> = spec.pathParams ?? {};
  const schema = own[name];
  return schema === undefined ? { type: "string", format: "uuid" } : z.toJSONSchema(schema, REQUEST_SCHEMA_OPTIONS);
}

function parameters(spec: RouteSpec): Parameter[] {
  const path = pathParamNames(spec.path).map((name) => ({
    name,
    in: "path" as const,
    required: true,
    schema: pathParamSchema(spec, name),
  }));
  return [...path, ...(spec.query ? queryParameters(spec.query) : [])];
}

function describeOperation(spec: RouteSpec): string {
  const access = spec.scopes === "public" ? "Public: no credential." : `Requires scopes: ${spec.scopes.join(", ")}.`;
  return [spec.description, access].filter((part) => part !== undefined).join("\n\n");
}

export function operationOf(spec: RouteSpec): Operation {
  const params = parameters(spec);
  return {
    operationId: spec.operationId,
    summary: spec.summary,
    description: describeOperation(spec),
    tags: spec.tags,
    ...(params.length > 0 ? { parameters: params } : {}),
    ...(spec.body
      ? {
          requestBody: {
            required: true,
            content: { "application/json": { schema: z.toJSONSchema(spec.body, REQUEST_SCHEMA_OPTIONS) } },
          },
        }
      : {}),
    responses: responses(spec),
    security: spec.scopes === "public" ? [] : [{ [SECURITY_SCHEME]: [] }],
    "x-required-scopes": spec.scopes === "public" ? [] : spec.scopes,
  };
}

function pathsOf(specs: readonly RouteSpec[]): Record<string, Record<string, Operation>> {
  const paths: Record<string, Record<string, Operation>> = {};
  for (const spec of specs) {
    const path = openApiPath(spec.path);
    paths[path] = { ...paths[path], [spec.method]: operationOf(spec) };
  }
  return paths;
}

export function buildOpenApiDocument(specs: readonly RouteSpec[]): OpenApiDocument {
  return {
    openapi: "3.1.0",
    info: {
      title: "Vecto appliance API",
      version: VERSION,
      description:
        "Errors are RFC 9457 problem details (application/problem+json). Each operation names the scopes it needs in x-required-scopes.",
    },
    servers: [{ url: "/" }],
    tags: [...new Set(specs.flatMap((s) => s.tags))].sort().map((name) => ({ name })),
    security: [{ [SECURITY_SCHEME]: [] }],
    paths: pathsOf(specs),
    components: {
      schemas: { Problem: z.toJSONSchema(problemSchema, RESPONSE_SCHEMA_OPTIONS) },
      securitySchemes: {
        [SECURITY_SCHEME]: {
          type: "http",
          scheme: "bearer",
          description: "An access token (JWT) from /api/auth/login, or a personal access token (vct_…).",
        },
      },
    },
  };
}

/** GET /api/openapi.json (public). Built on first request, once every router is mounted. */
export function openApiRoutes(authenticator: Authenticator, registry: ApiRegistry): ApiRouter {
  const router = new ApiRouter(authenticator);
  let document: OpenApiDocument | undefined;
  defineRoute(
    router,
    {
      method: "get",
      path: DOCUMENT_PATH,
      operationId: "getOpenApiDocument",
      summary: "This OpenAPI 3.1 document",
      tags: ["meta"],
      scopes: "public",
      responses: { 200: { description: "the OpenAPI 3.1 document of this API" } },
    },
    (c) => {
      document ??= buildOpenApiDocument(registry.specs);
      return c.json(document);
    },
  );
  return router;
}
