/** The audit logs' integrity: verification, and the signed checkpoints a third party checks offline. */
import { z } from "zod";
import { readableLog } from "../../audit/reader-access.js";
import type { Principal } from "../../auth/principal.js";
import type { AppDeps } from "../deps.js";
import { principalOf } from "../middleware/require-scope.js";
import { ApiRouter, defineRoute } from "../route.js";

const logQuery = z.strictObject({ log: z.enum(["own", "platform"]).default("own") });
const count = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const inclusionQuery = logQuery.extend({ seq: count, size: count.min(1) });
const consistencyQuery = logQuery.extend({ from: count.min(1), to: count.min(1) });
const tags = ["audit"];
const read = ["audit:read"] as const;

/** A tenant reads its own log; the platform root reads its tenant's log or, with log=platform, the installation's. */
function logOf(principal: Principal, which: "own" | "platform"): string {
  return readableLog(principal, which === "platform", "not-found");
}

export function auditIntegrityRoutes(deps: AppDeps): ApiRouter {
  const router = new ApiRouter(deps.identity.authenticator);

  defineRoute(
    router,
    {
      method: "get",
      path: "/api/audit/verify",
      operationId: "verifyAuditLog",
      reads: "sensitive",
      summary: "Recompute every signature, leaf and signed checkpoint of the log; names the first bad event",
      tags,
      scopes: read,
      query: logQuery,
      responses: { 200: { description: "the verification report (ok, events, checkpoints, firstBad)" } },
    },
    async (c, { query }) => {
      const principal = principalOf(c);
      const report = await deps.auditTrail.verify(principal, logOf(principal, query.log));
      return c.json({ report });
    },
  );

  defineRoute(
    router,
    {
      method: "get",
      path: "/api/audit/checkpoints",
      operationId: "listAuditCheckpoints",
      reads: "sensitive",
      summary: "The log's signed checkpoints (C2SP signed notes) and the verifier key that checks them",
      tags,
      scopes: read,
      query: logQuery,
      responses: { 200: { description: "origin, verifier key and checkpoints" } },
    },
    async (c, { query }) => c.json(await deps.auditTrail.checkpoints(logOf(principalOf(c), query.log))),
  );

  defineRoute(
    router,
    {
      method: "get",
      path: "/api/audit/proofs/inclusion",
      operationId: "auditInclusionProof",
      reads: "sensitive",
      summary: "RFC 6962 proof that event `seq` is in the log at a signed size",
      tags,
      scopes: read,
      query: inclusionQuery,
      responses: { 200: { description: "leaf hash and audit path (base64)" } },
    },
    (c, { query }) => c.json(deps.auditTrail.inclusion(logOf(principalOf(c), query.log), query.seq, query.size)),
  );

  defineRoute(
    router,
    {
      method: "get",
      path: "/api/audit/proofs/consistency",
      operationId: "auditConsistencyProof",
      reads: "sensitive",
      summary: "RFC 6962 proof that the log at signed size `from` is a prefix of the log at signed size `to`",
      tags,
      scopes: read,
      query: consistencyQuery,
      responses: { 200: { description: "consistency proof (base64)" } },
    },
    (c, { query }) => c.json(deps.auditTrail.consistency(logOf(principalOf(c), query.log), query.from, query.to)),
  );

  defineRoute(
    router,
    {
      method: "post",
      path: "/api/audit/checkpoints",
      operationId: "makeAuditCheckpoints",
      summary: "Sign checkpoints now for every log that grew (the scheduler also does it every few minutes)",
      tags,
      scopes: ["platform:admin"],
      responses: { 200: { description: "the logs checkpointed and their sizes" } },
    },
    async (c) => c.json({ checkpoints: await deps.auditTrail.checkpointNow() }),
  );

  return router;
}
