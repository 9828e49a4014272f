/**
 * One text rule for every text the API stores (src/text.ts). Every string a route accepts in its
 * body or path is probed with text the rule refuses (NUL, a lone surrogate, a C0, DEL and a C1
 * control): a field that accepts any of them is a raw `z.string()` for stored text, and fails here
 * unless it is on the short list of fields that are never stored as text. Closed formats (ids,
 * slugs, emails, enums, patterns) refuse the probes by construction and pass on their own.
 * Query strings are not stored and are not walked.
 */
import { z } from "zod";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registryOf, type RouteSpec } from "../../src/server/route.js";
import { passwordSchema } from "../../src/server/routes/schemas.js";
import { identityFixture, type Fixture } from "../identity-fixture.js";

const PROBES = ["x\u0000y", "/x\u0000y", "x\ud800y", "x\udc00y", "x\u001by", "x\u007fy", "x\u009by"];

/** Schemas that are never stored as text, wherever they appear. */
const NOT_STORED_SCHEMAS = new Map<z.ZodType, string>([
  [passwordSchema, "a password: only its argon2id hash is stored"],
]);
/** Fields, by route and path, that are never stored as text. Each entry must exist (no stale entries). */
const NOT_STORED_FIELDS: Readonly<Record<string, string>> = {
  "POST /api/setup body.token": "the one-time setup token: compared with its hash, never stored",
  "POST /api/auth/refresh body.refreshToken": "a refresh token: looked up by its hash, never stored",
  "POST /api/secrets body.value":
    "a credential: write-only, never shown; its own rule refuses NUL and lone surrogates (secretValueProblem)",
  "POST /api/me/signing-keys body.publicKey":
    "an Ed25519 public key (PEM or base64): parsed into its 32 raw bytes, which are stored; the text is not",
  "PUT /api/secrets/:name body.value":
    "a credential: write-only, never shown; its own rule refuses NUL and lone surrogates (secretValueProblem)",
};

interface Field {
  readonly where: string;
  readonly schema: z.ZodType;
}

/** Every leaf schema under `schema`, named by its path; wrappers (optional, default, pipes…) are looked through. */
function leaves(schema: z.ZodType, where: string): Field[] {
  if (NOT_STORED_SCHEMAS.has(schema)) return [{ where, schema }];
  if (schema instanceof z.ZodObject)
    return Object.entries(schema.shape as Record<string, z.ZodType>).flatMap(([key, value]) =>
      leaves(value, `${where}.${key}`),
    );
  if (
    schema instanceof z.ZodOptional ||
    schema instanceof z.ZodNullable ||
    schema instanceof z.ZodDefault ||
    schema instanceof z.ZodPrefault ||
    schema instanceof z.ZodReadonly ||
    schema instanceof z.ZodNonOptional ||
    schema instanceof z.ZodCatch
  ) {
    return leaves(schema.def.innerType as z.ZodType, where);
  }
  if (schema instanceof z.ZodPipe) return leaves(schema.def.in as z.ZodType, where);
  if (schema instanceof z.ZodArray) return leaves(schema.element as z.ZodType, `${where}[]`);
  if (schema instanceof z.ZodUnion) return (schema.options as z.ZodType[]).flatMap((option) => leaves(option, where));
  if (
    schema instanceof z.ZodRecord ||
    schema instanceof z.ZodIntersection ||
    schema instanceof z.ZodTuple ||
    schema instanceof z.ZodLazy
  ) {
    throw new Error(`${where}: teach this walker about ${schema.def.type}`);
  }
  return [{ where, schema }];
}

function fieldsOf(spec: RouteSpec): Field[] {
  const route = `${spec.method.toUpperCase()} ${spec.path}`;
  const params: Readonly<Record<string, z.ZodType | undefined>> = spec.pathParams ?? {};
  return [
    ...(spec.body ? leaves(spec.body, `${route} body`) : []),
    ...Object.entries(params).flatMap(([name, schema]) => (schema ? leaves(schema, `${route} path.${name}`) : [])),
  ];
}

const acceptedProbes = (schema: z.ZodType): string[] => PROBES.filter((probe) => schema.safeParse(probe).success);
/** A probe as an escaped literal, so that the report shows which control got through. */
const shown = (probe: string): string =>
  probe.replace(/[^\x20-\x7e]/g, (unit) => `\\u${unit.charCodeAt(0).toString(16).padStart(4, "0")}`);

interface TextCheck {
  readonly fields: readonly string[];
  /** Fields that store text the rule would refuse, with the probes they accepted. */
  readonly open: readonly string[];
  readonly staleExceptions: readonly string[];
}

function checkText(specs: readonly RouteSpec[]): TextCheck {
  const fields = specs.flatMap(fieldsOf);
  const open = fields
    .filter((f) => !NOT_STORED_SCHEMAS.has(f.schema) && NOT_STORED_FIELDS[f.where] === undefined)
    .flatMap((f) => {
      const accepted = acceptedProbes(f.schema);
      return accepted.length > 0 ? [`${f.where} accepts ${accepted.map(shown).join(" ")}`] : [];
    });
  const names = new Set(fields.map((f) => f.where));
  return { fields: [...names], open, staleExceptions: Object.keys(NOT_STORED_FIELDS).filter((key) => !names.has(key)) };
}

describe("every stored text field follows the one text rule", () => {
  let f: Fixture;

  beforeAll(async () => {
    f = await identityFixture();
  });
  afterAll(() => f.close());

  it("the real app: no body or path field stores text the rule refuses", () => {
    const specs = registryOf(f.app)?.specs ?? [];
    const result = checkText(specs);
    console.log(`text rule: ${result.fields.length} body and path fields of ${specs.length} routes probed`);
    expect(result.open, "stored text fields without lineSchema/multilineSchema (src/text.ts)").toEqual([]);
    expect(result.staleExceptions, "exceptions that match no field").toEqual([]);
    // It walked the fields it is for: these are free text, and pass only through the rule.
    for (const field of [
      "POST /api/projects/:projectId/nodes body.title",
      "PATCH /api/nodes/:nodeId body.body",
      "POST /api/tenants body.admin.name",
      "POST /api/users body.name",
      "POST /api/tokens body.name",
      "POST /api/secrets body.description",
      "PUT /api/secrets/:name path.name",
    ]) {
      expect(result.fields, field).toContain(field);
    }
  });

  it("the check can fail: a raw z.string() in a body, nested or in a path is found; an exception is honoured", () => {
    const spec = (path: string, body: z.ZodType, pathParams?: Record<string, z.ZodType<string>>): RouteSpec => ({
      method: "post",
      path,
      operationId: path,
      summary: "",
      tags: [],
      scopes: ["self"],
      body,
      responses: {},
      ...(pathParams ? { pathParams } : {}),
    });
    const result = checkText([
      spec("/api/raw", z.strictObject({ comment: z.string().max(100), id: z.uuid() })),
      spec("/api/nested", z.strictObject({ items: z.array(z.strictObject({ label: z.string().trim().optional() })) })),
      spec("/api/named/:name", z.strictObject({ kind: z.enum(["a"]) }), { name: z.string().min(1) }),
      spec("/api/login-like", z.strictObject({ password: passwordSchema })),
    ]);
    expect(result.open.map((o) => o.split(" accepts ")[0])).toEqual([
      "POST /api/raw body.comment",
      "POST /api/nested body.items[].label",
      "POST /api/named/:name path.name",
    ]);
  });
});
