/**
 * GET /api/openapi.json: an OpenAPI 3.1 document generated from the route specs. The checks:
 * it is well formed (refs resolve, operationIds unique, path parameters declared); it covers
 * exactly the app's route table (a route added without defineRoute fails here); each request
 * body is z.toJSONSchema of the very zod object the route validates with; and real invalid
 * requests are refused the way the document says they will be.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  DOCUMENT_PATH,
  openApiPath,
  REQUEST_SCHEMA_OPTIONS,
  type OpenApiDocument,
  type Operation,
} from "../../src/server/openapi.js";
import { registryOf } from "../../src/server/route.js";
import { VERSION } from "../../src/version.js";
import { identityFixture, type Fixture, type TenantAccount } from "../identity-fixture.js";

const METHODS = ["get", "put", "post", "delete", "patch", "head", "options", "trace"];
const ANY_ID = "00000000-0000-4000-8000-000000000000";

interface RouteEntry {
  readonly method: string;
  readonly path: string;
}

interface FieldError {
  readonly path: string;
  readonly message: string;
}

interface OperationAt {
  readonly key: string;
  readonly path: string;
  readonly method: string;
  readonly op: Operation;
}

function operations(doc: OpenApiDocument): OperationAt[] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => METHODS.includes(method))
      .map(([method, op]) => ({ key: `${method.toUpperCase()} ${path}`, path, method, op })),
  );
}

/** "METHOD /openapi/{path}" of every endpoint in a Hono route table, global middleware excluded. */
function endpointsOf(routes: readonly RouteEntry[]): string[] {
  const isGlobal = (r: RouteEntry): boolean => r.method === "ALL" && (r.path === "/*" || r.path === "*");
  return [...new Set(routes.filter((r) => !isGlobal(r)).map((r) => `${r.method} ${openApiPath(r.path)}`))].sort();
}

/** Both directions: endpoints with no operation, and operations with no endpoint. */
function coverage(routes: readonly RouteEntry[], doc: OpenApiDocument): { undocumented: string[]; phantom: string[] } {
  const endpoints = endpointsOf(routes);
  const documented = operations(doc).map((o) => o.key);
  return {
    undocumented: endpoints.filter((e) => !documented.includes(e)),
    phantom: documented.filter((d) => !endpoints.includes(d)),
  };
}

function refsIn(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(refsIn);
  if (value === null || typeof value !== "object") return [];
  return Object.entries(value).flatMap(([key, child]) =>
    key === "$ref" && typeof child === "string" ? [child] : refsIn(child),
  );
}

/** Resolves a local JSON pointer ("#/components/schemas/Problem") or returns undefined. */
function resolve(doc: unknown, ref: string): unknown {
  if (!ref.startsWith("#/")) return undefined;
  let node: unknown = doc;
  for (const raw of ref.slice(2).split("/")) {
    const key = raw.replaceAll("~1", "/").replaceAll("~0", "~");
    if (node === null || typeof node !== "object" || !(key in node)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

const jsonBodySchema = (op: Operation): Record<string, unknown> | undefined =>
  op.requestBody?.content["application/json"].schema as Record<string, unknown> | undefined;

describe("OpenAPI document", () => {
  let f: Fixture;
  let acme: TenantAccount;
  let doc: OpenApiDocument;

  /** The tenant admin's scopes, as the API reports them. */
  let adminScopes: ReadonlySet<string>;
  /** A credential holding the operation's scopes: a tenant admin when it holds them, else the platform root (platform:admin, keys:manage, …). */
  const tokenFor = (op: Operation): string | undefined => {
    if (op.security.length === 0) return undefined;
    return op["x-required-scopes"].every((s) => adminScopes.has(s))
      ? acme.admin.tokens.accessToken
      : f.root.tokens.accessToken;
  };
  const concrete = (path: string): string => path.replace(/\{[A-Za-z0-9_]+\}/g, ANY_ID);
  const send = (o: OperationAt, body: unknown): Promise<Response> => {
    const token = tokenFor(o.op);
    return f.call(o.method.toUpperCase(), concrete(o.path), { body, ...(token === undefined ? {} : { token }) });
  };
  const fieldErrors = async (res: Response): Promise<FieldError[]> =>
    ((await res.json()) as { errors: FieldError[] }).errors;
  const operation = (key: string): OperationAt => {
    const found = operations(doc).find((o) => o.key === key);
    if (!found) throw new Error(`no operation ${key}`);
    return found;
  };

  beforeAll(async () => {
    f = await identityFixture();
    acme = await f.createTenant("openapi-acme");
    adminScopes = new Set(
      (
        (await (await f.call("GET", "/api/me", { token: acme.admin.tokens.accessToken })).json()) as {
          scopes: string[];
        }
      ).scopes,
    );
    const res = await f.call("GET", DOCUMENT_PATH);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    doc = (await res.json()) as OpenApiDocument;
  });
  afterAll(() => f.close());

  it("is public and has the OpenAPI 3.1 top level", () => {
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.info).toMatchObject({ title: "Vecto appliance API", version: VERSION });
    expect(doc.servers).toEqual([{ url: "/" }]);
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: "http", scheme: "bearer" });
    expect(doc.components.schemas.Problem).toMatchObject({ type: "object", required: ["type", "title", "status"] });
    expect(doc.security).toEqual([{ bearerAuth: [] }]);
    const documentOp = operation(`GET ${DOCUMENT_PATH}`).op;
    expect(documentOp.security).toEqual([]);
  });

  it("every $ref resolves within the document", () => {
    const refs = refsIn(doc);
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of new Set(refs)) expect(resolve(doc, ref), ref).toBeDefined();
  });

  it("operationIds are unique, and every operation has a summary, tags and responses", () => {
    const ops = operations(doc);
    const ids = ops.map((o) => o.op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const { key, op } of ops) {
      expect(op.summary, key).not.toBe("");
      expect(op.tags.length, key).toBeGreaterThan(0);
      expect(Object.keys(op.responses).length, key).toBeGreaterThan(0);
      for (const tag of op.tags)
        expect(
          doc.tags.map((t) => t.name),
          key,
        ).toContain(tag);
    }
  });

  it("every path parameter is declared, required and a uuid (or the schema its route validates it with); no stray path parameters", () => {
    const specs = registryOf(f.app)?.specs ?? [];
    for (const { key, path, method, op } of operations(doc)) {
      const inPath = [...path.matchAll(/\{([A-Za-z0-9_]+)\}/g)].map((m) => m[1]);
      const declared = (op.parameters ?? []).filter((p) => p.in === "path");
      expect(declared.map((p) => p.name).sort(), key).toEqual([...inPath].sort());
      const spec = specs.find((s) => s.method === method && openApiPath(s.path) === path);
      const own: Readonly<Record<string, z.ZodType<string> | undefined>> = spec?.pathParams ?? {};
      for (const p of declared) {
        const schema = own[p.name];
        const expected =
          schema === undefined ? { type: "string", format: "uuid" } : z.toJSONSchema(schema, REQUEST_SCHEMA_OPTIONS);
        expect(p, `${key} ${p.name}`).toMatchObject({ required: true, schema: expected });
      }
    }
    // The secrets' names are the one non-id path parameter so far, documented with their pattern.
    const rotate = operation("PUT /api/secrets/{name}").op.parameters?.find((p) => p.name === "name");
    expect(rotate?.schema).toMatchObject({ type: "string", pattern: expect.any(String) as string });
  });

  it("documents the shared errors: 401/403 when scoped, 400/415/422 with a body, 404 with an id, all as Problem", () => {
    for (const { key, path, op } of operations(doc)) {
      const statuses = Object.keys(op.responses);
      const scoped = op.security.length > 0;
      if (scoped) expect(statuses, key).toEqual(expect.arrayContaining(["401", "403"]));
      if (scoped) expect(op["x-required-scopes"].length, key).toBeGreaterThan(0);
      else expect(op["x-required-scopes"], key).toEqual([]);
      if (op.requestBody) expect(statuses, key).toEqual(expect.arrayContaining(["400", "415", "422"]));
      if (path.includes("{")) expect(statuses, key).toContain("404");
      for (const status of statuses.filter((s) => Number(s) >= 400)) {
        expect(op.responses[status]?.content, `${key} ${status}`).toEqual({
          "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } },
        });
      }
    }
  });

  it("covers exactly the app's route table: no undocumented route, no phantom operation", () => {
    const result = coverage(f.app.routes, doc);
    console.log(`openapi: ${operations(doc).length} operations for ${endpointsOf(f.app.routes).length} routes`);
    expect(result.undocumented, "routes without a spec (use defineRoute)").toEqual([]);
    expect(result.phantom, "documented operations with no route").toEqual([]);
  });

  it("the coverage check can fail: a route added beside defineRoute is caught", () => {
    const extra = [...f.app.routes, { method: "DELETE", path: "/api/forgotten/:thingId" }];
    expect(coverage(extra, doc).undocumented).toEqual(["DELETE /api/forgotten/{thingId}"]);
    const fewer = f.app.routes.filter((r) => r.path !== "/api/me");
    expect(coverage(fewer, doc).phantom).toEqual(["GET /api/me"]);
  });

  it("each request body is z.toJSONSchema of the zod object the route validates with", () => {
    const registry = registryOf(f.app);
    if (!registry) throw new Error("the app has no route registry");
    const withBody = registry.specs.filter((s) => s.body !== undefined);
    expect(withBody.length).toBeGreaterThan(5);
    for (const spec of registry.specs) {
      const op = doc.paths[openApiPath(spec.path)]?.[spec.method];
      expect(op?.operationId, spec.operationId).toBe(spec.operationId);
      if (spec.body === undefined) expect(op?.requestBody, spec.operationId).toBeUndefined();
      else
        expect(op?.requestBody?.content["application/json"].schema, spec.operationId).toEqual(
          z.toJSONSchema(spec.body, REQUEST_SCHEMA_OPTIONS),
        );
    }
  });

  it("for every body: {} is refused with 422 naming exactly the fields the document marks required", async () => {
    for (const o of operations(doc).filter((x) => x.op.requestBody)) {
      const schema = jsonBodySchema(o.op);
      const res = await send(o, {});
      expect(res.status, o.key).toBe(422);
      const missing = (await fieldErrors(res)).map((e) => e.path).filter((p) => p !== "(body)");
      expect(missing.sort(), o.key).toEqual([...((schema?.required as string[] | undefined) ?? [])].sort());
    }
  });

  it("for every body: an unknown field is refused with 422, as additionalProperties: false says", async () => {
    for (const o of operations(doc).filter((x) => x.op.requestBody)) {
      expect(jsonBodySchema(o.op)?.additionalProperties, o.key).toBe(false);
      const res = await send(o, { smuggled: true });
      expect(res.status, o.key).toBe(422);
      expect(
        (await fieldErrors(res)).some((e) => e.message.includes("smuggled")),
        o.key,
      ).toBe(true);
    }
  });

  it("samples: a bad field value, an empty update and a bad query are refused as documented", async () => {
    const tenants = operation("POST /api/tenants");
    const slug = (jsonBodySchema(tenants.op)?.properties as Record<string, { pattern?: string }>).slug;
    expect(slug?.pattern).toBeDefined();
    const badSlug = await send(tenants, {
      slug: "Not A Slug",
      name: "x",
      admin: { email: "a@example.test", name: "A", password: "violet-anchor-quartz-meadow-42" },
    });
    expect(badSlug.status).toBe(422);
    expect((await fieldErrors(badSlug)).map((e) => e.path)).toEqual(["slug"]);

    const patch = operation("PATCH /api/projects/{projectId}");
    expect(jsonBodySchema(patch.op)?.minProperties).toBe(1);
    const empty = await send(patch, {});
    expect(empty.status).toBe(422);
    expect(await fieldErrors(empty)).toEqual([{ path: "(body)", message: "nothing to change" }]);

    const list = operation("GET /api/projects");
    expect(list.op.parameters?.find((p) => p.name === "limit")).toMatchObject({
      in: "query",
      required: false,
      schema: { type: "integer", minimum: 1, maximum: 500 },
    });
    expect(list.op.responses["400"]).toBeDefined();
    const badLimit = await f.call("GET", "/api/projects?limit=0", { token: acme.admin.tokens.accessToken });
    expect(badLimit.status).toBe(400);
  });

  it("the document does not change between requests and needs no credential", async () => {
    const again = await f.call("GET", DOCUMENT_PATH, { headers: { Authorization: "Bearer not-a-real-token-at-all" } });
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual(doc);
  });
});
