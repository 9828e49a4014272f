/** Refuses request bodies over the configured size with 413 before they are read into memory. */
import type { MiddlewareHandler } from "hono";
import { bodyLimit as honoBodyLimit } from "hono/body-limit";
import { ProblemError } from "../problem.js";

export function bodyLimit(maxBytes: number): MiddlewareHandler {
  return honoBodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new ProblemError(413, "payload-too-large", `request body exceeds ${maxBytes} bytes`, { limit: maxBytes });
    },
  });
}
