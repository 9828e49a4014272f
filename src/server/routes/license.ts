/**
 * The license and the usage report (docs/licensing.md): platform routes, `license:manage` (the
 * platform root). GET /api/license shows the state, limits, usage against them and warnings;
 * PUT /api/license installs a license (always allowed, also when read-only after expiry);
 * GET /api/usage/report is the signed usage report for a period, for a license audit.
 */
import { z } from "zod";
import { DEPLOYMENT_MODES, MAX_LICENSE_TEXT_BYTES } from "../../license/format.js";
import { LICENSE_STATES } from "../../license/state.js";
import { isDay } from "../../usage/report-format.js";
import type { AppDeps } from "../deps.js";
import { principalOf } from "../middleware/require-scope.js";
import { ApiRouter, defineRoute } from "../route.js";
import { multilineSchema } from "./schemas.js";
import { actorOf } from "../../auth/principal.js";

const tags = ["license"];
const manage = ["license:manage"] as const;

const limitsSchema = z.strictObject({ tenants: z.int(), users: z.int(), agents: z.int() });

const statusSchema = z.strictObject({
  state: z.enum(LICENSE_STATES),
  evaluation: z.boolean(),
  readOnly: z.boolean(),
  license: z
    .strictObject({
      licenseId: z.string(),
      licensee: z.string(),
      edition: z.string(),
      deploymentMode: z.enum(DEPLOYMENT_MODES),
      limits: limitsSchema,
      features: z.array(z.string()),
      issuedAt: z.string(),
      notBefore: z.string(),
      expiresAt: z.string(),
      graceDays: z.int(),
      sequence: z.int(),
      kid: z.string(),
      installedAt: z.string(),
      installedBy: z.string(),
    })
    .nullable(),
  limits: limitsSchema.meta({
    description: "the limits in effect: the license's, or the evaluation limits without one",
  }),
  usage: limitsSchema.meta({
    description: "what counts against them now: customer tenants, active people, active agents",
  }),
  expiresAt: z.string().nullable(),
  graceEndsAt: z.string().nullable(),
  daysLeft: z.int().nullable(),
  warnings: z.array(z.string()),
  clockRollback: z.boolean(),
});

const installSchema = z.strictObject({
  license: multilineSchema({ max: MAX_LICENSE_TEXT_BYTES }).meta({
    description: "the license file's text, -----BEGIN VECTO LICENSE----- ... -----END VECTO LICENSE-----",
  }),
});

const dayParam = (what: string): z.ZodType<string> => z.string().refine(isDay, `${what} must be a date YYYY-MM-DD`);
const reportQuery = z.strictObject({
  from: dayParam("from").meta({ description: "first day (UTC), YYYY-MM-DD" }),
  to: dayParam("to").meta({ description: "last day (UTC), YYYY-MM-DD, included" }),
});

export function licenseRoutes(deps: AppDeps): ApiRouter {
  const router = new ApiRouter(deps.identity.authenticator);

  defineRoute(
    router,
    {
      method: "get",
      path: "/api/license",
      operationId: "getLicense",
      reads: "content",
      summary: "The license: state, licensee, edition, limits, usage against them, expiry and warnings",
      tags,
      scopes: manage,
      responses: { 200: { description: "the license status", schema: statusSchema } },
    },
    (c) => c.json(deps.license.status()),
  );

  defineRoute(
    router,
    {
      method: "put",
      path: "/api/license",
      operationId: "installLicense",
      summary: "Install a license (checked now: vendor signature, dates, a sequence higher than the installed one's)",
      description:
        "Always allowed, also while the appliance is read-only after expiry. A refusal is 422 with the reason (`reason`: armor, envelope, unknown-key, bad-signature, invalid-payload, not-yet-valid, expired, sequence) and is recorded as license.refused.",
      tags,
      scopes: manage,
      body: installSchema,
      responses: {
        200: { description: "installed; the new license status", schema: statusSchema },
        422: { description: "the license is refused; `detail` says why, `reason` names the check" },
      },
    },
    async (c, { body }) => {
      const principal = principalOf(c);
      return c.json(await deps.license.install(body.license, actorOf(principal)));
    },
  );

  defineRoute(
    router,
    {
      method: "get",
      path: "/api/usage/report",
      operationId: "getUsageReport",
      reads: "sensitive",
      summary: "The signed usage report for a period (counts only), for a license audit",
      description:
        "Daily snapshots of the period with their hash chain, missing days and clock rollbacks, a Markdown summary, signed with the installation's Ed25519 key. Recorded as usage.exported. The vendor verifies it with `npm run licensing -- verify-usage`.",
      tags,
      scopes: manage,
      query: reportQuery,
      responses: {
        200: { description: "the report (a download: Content-Disposition attachment)" },
        422: { description: "the period is reversed or longer than allowed" },
      },
    },
    async (c, { query }) => {
      const principal = principalOf(c);
      const report = await deps.usage.report(query.from, query.to, actorOf(principal), "api");
      c.header("Content-Disposition", `attachment; filename="vecto-usage-${query.from}-${query.to}.json"`);
      c.header("Cache-Control", "no-store");
      return c.json(report);
    },
  );

  return router;
}
