/** Path and query parameters, validated like bodies: a malformed one is 400 (or 404 for ids), never passed on. */
import type { Context } from "hono";
import type { z } from "zod";
import { ProblemError } from "../problem.js";
import { idSchema } from "./schemas.js";

/** An id in the path; one that cannot exist is simply not found. */
export function idParam(c: Context, name: string): string {
  const parsed = idSchema.safeParse(c.req.param(name));
  if (!parsed.success) throw new ProblemError(404, "not-found", `no such ${name.replace(/Id$/, "")}`);
  return parsed.data;
}

/** A path parameter with a schema of its own (e.g. a name); one that cannot exist is not found either. */
export function namedParam(c: Context, name: string, schema: z.ZodType<string>): string {
  const parsed = schema.safeParse(c.req.param(name));
  if (!parsed.success) throw new ProblemError(404, "not-found", `nothing can have that ${name}`);
  return parsed.data;
}

/** The version a change is based on (If-Match: "<version>", as the ETag gave it); undefined when absent. */
export function ifMatchVersion(c: Context): number | undefined {
  const header = c.req.header("if-match");
  if (header === undefined) return undefined;
  const match = /^\s*(?:W\/)?"(\d{1,15})"\s*$/.exec(header);
  if (!match) throw new ProblemError(412, "precondition-failed", 'If-Match must be one entity tag, "<version>"');
  return Number(match[1]);
}

export function queryOf<S extends z.ZodType>(c: Context, schema: S): z.infer<S> {
  const parsed = schema.safeParse(c.req.query());
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join(".") || "(query)"}: ${i.message}`).join("; ");
    throw new ProblemError(400, "bad-request", detail);
  }
  return parsed.data;
}
