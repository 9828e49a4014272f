/**
 * Liveness and readiness. Public (no credentials): they reveal only whether the parts are up,
 * never versions of keys, paths or error internals.
 */
import { Hono } from "hono";
import type { AppEnv, AppDeps } from "../app.js";
import { PROBLEM_CONTENT_TYPE, problemBody } from "../problem.js";

type CheckResult = "ok" | string;

async function probe(run: () => unknown): Promise<CheckResult> {
  try {
    await run();
    return "ok";
  } catch (error) {
    return error instanceof Error ? error.message : "failed";
  }
}

export function healthRoutes(deps: AppDeps): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();

  routes.get("/healthz", (c) => c.json({ status: "ok" }));

  routes.get("/readyz", async (c) => {
    const checks = {
      database: await probe(() => deps.db.ping()),
      keys: await probe(() => deps.keys.check()),
    };
    const failing = Object.entries(checks).filter(([, result]) => result !== "ok");
    if (failing.length === 0) return c.json({ status: "ready", checks });
    const detail = failing.map(([name, reason]) => `${name}: ${reason}`).join("; ");
    c.header("Retry-After", "5");
    return c.body(JSON.stringify(problemBody(503, "not-ready", detail, { checks })), 503, { "Content-Type": PROBLEM_CONTENT_TYPE });
  });

  return routes;
}
