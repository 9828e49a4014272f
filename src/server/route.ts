/**
 * defineRoute(router, spec, handler): one spec object per endpoint, from which both the Hono
 * route (scope check, path, body and query validation) and its OpenAPI operation are made, so
 * the documentation cannot drift from what is enforced.
 *
 * Every path parameter is an id (a UUID) unless the spec gives it a schema of its own (a secret's
 * name, say). Either way a malformed one is 404, as it always was, since it names nothing that can exist.
 * Validation order is path, then body, then query: a bad id is "not found" before the body is read.
 */
import { Hono, type Context, type MiddlewareHandler } from "hono";
import type { z } from "zod";
import type { ReadKind } from "../audit/read-audit.js";
import type { Authenticator } from "../auth/authenticate.js";
import type { Scope } from "../vocabulary/roles.js";
import type { AppEnv } from "./deps.js";
import { jsonBody } from "./json-body.js";
import { requireScope } from "./middleware/require-scope.js";
import { idParam, namedParam, queryOf } from "./routes/params.js";

export type HttpMethod = "get" | "post" | "put" | "patch" | "delete";

/** The `:name` segments of a Hono path, as a union of names. */
export type PathParams<P extends string> = P extends `${string}:${infer Name}/${infer Rest}`
  ? Name | PathParams<`/${Rest}`>
  : P extends `${string}:${infer Name}`
    ? Name
    : never;

export interface ResponseSpec {
  readonly description: string;
  /** Documented only (responses are not validated); statuses >= 400 always use the shared Problem schema. */
  readonly schema?: z.ZodType;
}

export interface RouteSpec<
  P extends string = string,
  B extends z.ZodType | undefined = z.ZodType | undefined,
  Q extends z.ZodType | undefined = z.ZodType | undefined,
> {
  readonly method: HttpMethod;
  /** Hono style, `:name` for path parameters. */
  readonly path: P;
  /** Unique across the API; the name client generators give the call. */
  readonly operationId: string;
  readonly summary: string;
  readonly description?: string;
  readonly tags: readonly string[];
  /** Every scope the caller must hold, or "public" (no credential; keep the public list short). */
  readonly scopes: readonly [Scope, ...Scope[]] | "public";
  /** Path parameters that are not UUIDs, with the schema they must match (else 404); the rest are ids. */
  readonly pathParams?: Readonly<Partial<Record<PathParams<P>, z.ZodType<string>>>>;
  /** The JSON body, validated with jsonBody (415/400/422). */
  readonly body?: B;
  /** The query string, validated with queryOf (400). */
  readonly query?: Q;
  /** The route's own outcomes; the standard error responses (401/403/400/413/415/422/404) are added for it. */
  readonly responses: Readonly<Record<number, ResponseSpec>>;
  /**
   * What a successful call reads, for read auditing (src/audit/read-audit.ts): "sensitive"
   * (exports, audit-log reads, secret metadata, key views) or "content" (any other read of
   * tenant or installation data). Every GET that needs a credential says which
   * (test/unit/routes-declare-reads.test.ts); nothing else is recorded as a read.
   */
  readonly reads?: ReadKind;
}

type Parsed<S> = S extends z.ZodType ? z.output<S> : undefined;

export interface RouteInput<P extends string, B, Q> {
  readonly params: Readonly<Record<PathParams<P>, string>>;
  readonly body: Parsed<B>;
  readonly query: Parsed<Q>;
}

export type RouteHandler<P extends string, B, Q> = (
  c: Context<AppEnv>,
  input: RouteInput<P, B, Q>,
) => Response | Promise<Response>;

/** A group of routes and their specs; mounted on the app by ApiRegistry.mount. */
export class ApiRouter {
  readonly hono = new Hono<AppEnv>();
  readonly specs: RouteSpec[] = [];
  constructor(readonly authenticator: Authenticator) {}
}

export function pathParamNames(path: string): string[] {
  return [...path.matchAll(/:([A-Za-z0-9_]+)/g)].map((match) => match[1] ?? "");
}

/** Each path parameter's reader, built once per route (not a regular expression over the path per request). */
type ParamReader = (c: Context<AppEnv>) => string;

function paramReaders(spec: Pick<RouteSpec, "path" | "pathParams">): readonly (readonly [string, ParamReader])[] {
  const own: Readonly<Record<string, z.ZodType<string> | undefined>> = spec.pathParams ?? {};
  return pathParamNames(spec.path).map((name) => {
    const schema = own[name];
    const read: ParamReader = schema === undefined ? (c) => idParam(c, name) : (c) => namedParam(c, name, schema);
    return [name, read] as const;
  });
}

async function readInput<P extends string, B extends z.ZodType | undefined, Q extends z.ZodType | undefined>(
  c: Context<AppEnv>,
  spec: RouteSpec<P, B, Q>,
  readers: readonly (readonly [string, ParamReader])[],
): Promise<RouteInput<P, B, Q>> {
  const params: Record<string, string> = {};
  for (const [name, read] of readers) params[name] = read(c);
  const body: unknown = spec.body === undefined ? undefined : await jsonBody(c, spec.body);
  const query: unknown = spec.query === undefined ? undefined : queryOf(c, spec.query);
  // The casts restate what the schemas just proved; TypeScript cannot follow it through the optional generics.
  return { params: params as Record<PathParams<P>, string>, body: body as Parsed<B>, query: query as Parsed<Q> };
}

export function defineRoute<
  P extends string,
  B extends z.ZodType | undefined = undefined,
  Q extends z.ZodType | undefined = undefined,
>(router: ApiRouter, spec: RouteSpec<P, B, Q>, handler: RouteHandler<P, B, Q>): void {
  router.specs.push(spec);
  const readers = paramReaders(spec);
  const run: MiddlewareHandler<AppEnv> = async (c) => {
    const input = await readInput(c, spec, readers);
    // Handed to the read-audit middleware, which records it if the call succeeds (src/server/middleware/read-audit.ts).
    if (spec.reads !== undefined)
      c.set("read", {
        kind: spec.reads,
        operation: spec.operationId,
        resource: spec.tags[0] ?? spec.operationId,
        ids: input.params,
      });
    return handler(c, input);
  };
  const method = spec.method.toUpperCase();
  if (spec.scopes === "public") router.hono.on(method, spec.path, run);
  else router.hono.on(method, spec.path, requireScope(router.authenticator, ...spec.scopes), run);
}

/** The specs of one app, gathered as its routers are mounted; the OpenAPI document is built from them. */
export class ApiRegistry {
  readonly #specs: RouteSpec[] = [];

  get specs(): readonly RouteSpec[] {
    return this.#specs;
  }

  /** Mounts the router's routes at the app root and records their specs; a duplicate is a programming error. */
  mount(app: Hono<AppEnv>, router: ApiRouter): void {
    for (const spec of router.specs) {
      this.#check(spec);
      this.#specs.push(spec);
    }
    app.route("/", router.hono);
  }

  #check(spec: RouteSpec): void {
    const clash = this.#specs.find(
      (s) => s.operationId === spec.operationId || (s.method === spec.method && s.path === spec.path),
    );
    if (clash)
      throw new Error(
        `route ${spec.method.toUpperCase()} ${spec.path} (${spec.operationId}) clashes with ${clash.operationId}`,
      );
  }
}

/** Each app's registry, for the document route and for tests; keyed weakly so apps are collected normally. */
const registries = new WeakMap<Hono<AppEnv>, ApiRegistry>();

export function attachRegistry(app: Hono<AppEnv>, registry: ApiRegistry): void {
  registries.set(app, registry);
}

export function registryOf(app: Hono<AppEnv>): ApiRegistry | undefined {
  return registries.get(app);
}
