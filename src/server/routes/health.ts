/**
 * Liveness and readiness. Public (no credentials): they reveal only whether the parts are up,
 * never versions of keys, paths or error internals. Readiness also names the license state
 * (docs/licensing.md) as detail: an expired license never makes the appliance unready, since
 * reading, exports and backups must keep working. `warnings` (always present) lists what an
 * operator should act on that does not make it unready: a superseded master key, a TLS certificate
 * within CERT_WARN_DAYS of expiry. The keys check names, for a data key no available master key
 * opens, the tenant's id (never its name).
 */
import { z } from "zod";
import { LICENSE_STATES, type LicenseState } from "../../license/state.js";
import type { AppDeps } from "../deps.js";
import { PROBLEM_CONTENT_TYPE, problemBody } from "../problem.js";
import { ApiRouter, defineRoute } from "../route.js";

type CheckResult = "ok" | string;

const liveSchema = z.object({ status: z.literal("ok") });
const licenseDetail = z
  .enum([...LICENSE_STATES, "unknown"])
  .meta({ description: "the license state (detail only: never makes the appliance unready)" });
const warningsSchema = z.array(z.string()).meta({
  description:
    "things to act on soon that do not make the appliance unready (a superseded master key, a TLS certificate that expires within 30 days); empty when none",
});
const readySchema = z.object({
  status: z.literal("ready"),
  checks: z.object({ database: z.literal("ok"), storage: z.literal("ok"), keys: z.literal("ok") }),
  license: licenseDetail,
  warnings: warningsSchema,
});

async function probe(run: () => unknown): Promise<CheckResult> {
  try {
    await run();
    return "ok";
  } catch (error) {
    return error instanceof Error ? error.message : "failed";
  }
}

export function healthRoutes(deps: AppDeps): ApiRouter {
  const router = new ApiRouter(deps.identity.authenticator);
  const tags = ["health"];

  defineRoute(
    router,
    {
      method: "get",
      path: "/healthz",
      operationId: "getLiveness",
      summary: "Liveness",
      tags,
      scopes: "public",
      responses: { 200: { description: "the process is up", schema: liveSchema } },
    },
    (c) => c.json({ status: "ok" }),
  );

  defineRoute(
    router,
    {
      method: "get",
      path: "/readyz",
      operationId: "getReadiness",
      summary: "Readiness: database, storage (room to write) and keys; the license state as detail",
      tags,
      scopes: "public",
      responses: {
        200: { description: "ready to serve", schema: readySchema },
        503: { description: "not ready; `checks` names what failed (Retry-After: 5)" },
      },
    },
    async (c) => {
      const database = await probe(() => deps.probes.database());
      const warnings: string[] = [];
      const checks = {
        database,
        // Without writing: free space on the data directory and whether the last write found the disk full.
        storage: await probe(() => deps.probes.storage()),
        // The master key answers, and (from the keystore beside the database, so only when that is up) it is
        // not retired and every data key has a wrap some loaded, non-retired master key opens: tenant ids only.
        keys: await probe(async () => {
          await deps.resolver.check();
          if (database !== "ok") return;
          const health = deps.keys.health();
          warnings.push(...health.warnings);
          if (health.failures.length > 0) throw new Error(health.failures.join("; "));
        }),
      };
      let license: LicenseState | "unknown";
      try {
        license = deps.license.state();
      } catch {
        license = "unknown";
      }
      warnings.push(...(deps.certificate?.warnings() ?? []));
      const failing = Object.entries(checks).filter(([, result]) => result !== "ok");
      if (failing.length === 0) return c.json({ status: "ready", checks, license, warnings });
      const detail = failing.map(([name, reason]) => `${name}: ${reason}`).join("; ");
      c.header("Retry-After", "5");
      return c.body(JSON.stringify(problemBody(503, "not-ready", detail, { checks, license, warnings })), 503, {
        "Content-Type": PROBLEM_CONTENT_TYPE,
      });
    },
  );

  return router;
}
