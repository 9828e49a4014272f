/**
 * The security headers are on the response the handler returned, not on a copy of it: a header
 * set after the handler returned makes Hono copy the Response, and the HTTP adapter then streams
 * the copy's body instead of writing the handler's string (bench/security-headers.bench.ts).
 */
import { Hono, type Context } from "hono";
import { describe, expect, it } from "vitest";
import { securityHeaders } from "../../../src/server/middleware/security-headers.js";

/** Serves one answer; `leftAsReturned` says whether the response that left is the one the handler returned. */
async function serve(handler: (c: Context) => Response): Promise<{ res: Response; leftAsReturned: boolean }> {
  let returned: Response | undefined;
  let leftAsReturned = false;
  const app = new Hono();
  app.use(async (c, next) => {
    await next();
    leftAsReturned = c.res === returned;
  });
  app.use(securityHeaders());
  app.get("/api/x", (c) => (returned = handler(c)));
  return { res: await app.request("/api/x"), leftAsReturned };
}

describe("security headers", () => {
  it("are set without copying the response: built through the context, as every route does", async () => {
    const { res, leftAsReturned } = await serve((c) => c.json({ ok: true }));
    expect(leftAsReturned).toBe(true);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
  });

  it("are set in place on a handler's own Response, and a weaker value it set is replaced", async () => {
    const { res, leftAsReturned } = await serve(
      () => new Response("{}", { headers: { "X-Frame-Options": "SAMEORIGIN", "Cache-Control": "max-age=60" } }),
    );
    expect(leftAsReturned).toBe(true);
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("content-security-policy")).toContain("default-src 'self'");
  });
});
