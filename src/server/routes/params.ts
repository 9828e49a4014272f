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

export function queryOf<S extends z.ZodType>(c: Context, schema: S): z.infer<S> {
  const parsed = schema.safeParse(c.req.query());
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join(".") || "(query)"}: ${i.message}`).join("; ");
    throw new ProblemError(400, "bad-request", detail);
  }
  return parsed.data;
}
