/**
 * Reads and validates a JSON request body against a zod schema.
 *
 * 415 unless the body is declared application/json, 400 when it does not parse, 422 when it
 * does not match (unknown fields included: schemas are strict objects). The handler only ever
 * sees a typed, validated value, so nothing is written on bad input.
 */
import { buffer } from "node:stream/consumers";
import type { HttpBindings } from "@hono/node-server";
import type { Context } from "hono";
import type { z } from "zod";
import { ProblemError } from "./problem.js";

/** Strict: invalid UTF-8 is refused, never silently replaced (RFC 8259 requires UTF-8). */
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/** Nesting deeper than this is refused before validation: no legitimate request needs it. */
const MAX_DEPTH = 32;

function isJsonContentType(header: string | undefined): boolean {
  if (header === undefined) return false;
  const mediaType = header.split(";")[0]?.trim().toLowerCase();
  return mediaType === "application/json" || (mediaType?.endsWith("+json") ?? false);
}

function depth(value: unknown, level = 0): number {
  if (level > MAX_DEPTH || value === null || typeof value !== "object") return level;
  let deepest = level;
  for (const child of Object.values(value)) deepest = Math.max(deepest, depth(child, level + 1));
  return deepest;
}

export interface FieldError {
  readonly path: string;
  readonly message: string;
}

function fieldErrors(error: z.ZodError): FieldError[] {
  return error.issues.map((issue) => ({
    path: issue.path.length === 0 ? "(body)" : issue.path.map(String).join("."),
    message: issue.message,
  }));
}

/**
 * The body's bytes. With a Content-Length (already checked against the limit by the body-limit
 * middleware; Node's parser delivers exactly that many bytes) they are read straight from the
 * socket's request: asking Hono for them makes @hono/node-server build a whole WHATWG Request and
 * a web stream around the same bytes first. Only while nothing has started reading the socket's
 * request (`readableFlowing` still null): once something asked for `c.req.raw.body`, the bytes
 * flow into that web stream instead. A chunked body (the body-limit middleware reads and counts
 * it), and a request without a socket (tests), go through Hono.
 */
async function bodyBytes(c: Context): Promise<Uint8Array> {
  const incoming = (c.env as Partial<HttpBindings> | undefined)?.incoming;
  if (incoming !== undefined && incoming.readableFlowing === null && c.req.header("content-length") !== undefined)
    return buffer(incoming);
  return new Uint8Array(await c.req.arrayBuffer());
}

export async function jsonBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  if (!isJsonContentType(c.req.header("content-type"))) {
    throw new ProblemError(415, "unsupported-media-type", "request body must be application/json");
  }
  let text: string;
  try {
    text = utf8.decode(await bodyBytes(c));
  } catch (error) {
    if (error instanceof ProblemError) throw error;
    throw new ProblemError(400, "bad-request", "request body is not valid UTF-8");
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    if (error instanceof ProblemError) throw error;
    throw new ProblemError(400, "malformed-json", "request body is not valid JSON");
  }
  if (depth(parsed) > MAX_DEPTH) {
    throw new ProblemError(400, "bad-request", `JSON nesting deeper than ${MAX_DEPTH} levels`);
  }
  const result = schema.safeParse(parsed);
  if (!result.success) {
    const errors = fieldErrors(result.error);
    throw new ProblemError(422, "validation-failed", errors.map((e) => `${e.path}: ${e.message}`).join("; "), {
      errors,
    });
  }
  return result.data;
}
