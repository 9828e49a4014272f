/**
 * GET /api/audit: the caller's own tenant's audit log, streamed as JSON Lines or CSV (see
 * src/audit/export.ts for the snapshot and redaction rules). There is no tenant in the path: a
 * reader only ever reaches its own tenant's log; the platform root reads the platform tenant's
 * log, and with log=platform the installation's own log.
 */
import type { Context } from "hono";
import { z } from "zod";
import { auditFilterFields, exportFileName, exportStream, type AuditFormat } from "../../audit/export.js";
import { readableLog } from "../../audit/reader-access.js";
import type { AppDeps, AppEnv } from "../deps.js";
import { principalOf } from "../middleware/require-scope.js";
import { ApiRouter, defineRoute } from "../route.js";
import { streamedBody } from "../streamed.js";

const auditQuery = z.strictObject({ ...auditFilterFields, log: z.enum(["platform"]).optional() });
type AuditQuery = z.output<typeof auditQuery>;

const CONTENT_TYPES: Record<AuditFormat, string> = {
  jsonl: "application/x-ndjson; charset=utf-8",
  csv: "text/csv; charset=utf-8; header=present",
};

function exportAudit(deps: AppDeps, c: Context<AppEnv>, query: AuditQuery): Response {
  const principal = principalOf(c);
  const { log: which, ...request } = query;
  const log = readableLog(principal, which === "platform", "forbidden");
  const chunks = deps.auditTrail.export(principal, log, request);
  c.header("Content-Type", CONTENT_TYPES[request.format]);
  c.header(
    "Content-Disposition",
    `attachment; filename="${exportFileName(deps.auditTrail.fileLabel(log), request.format, new Date())}"`,
  );
  c.header("Cache-Control", "no-store");
  return streamedBody(c, exportStream(chunks), deps, "audit export");
}

export function auditRoutes(deps: AppDeps): ApiRouter {
  const router = new ApiRouter(deps.identity.authenticator);
  defineRoute(
    router,
    {
      method: "get",
      path: "/api/audit",
      operationId: "exportAuditLog",
      reads: "sensitive",
      summary: "The caller's tenant's audit log as JSON Lines or CSV, streamed; security payloads need audit:security",
      description:
        "Holds the events with seq below the log's size when the export started; the export itself is recorded (audit.exported) just before, and so is not in it. " +
        'Without audit:security, security events carry payload {"redacted": true} and "redacted": true, with their original vid and signature (which then no longer matches the line). ' +
        "CSV cells starting with = + - @ (or tab, CR) are prefixed with an apostrophe against spreadsheet formula injection (base64 signatures can start with +), " +
        "and so are cells starting with an apostrophe: drop one leading apostrophe from any cell to recover its value. " +
        "Each event adds actor_name (CSV: the last column): the actor's name as of the export, looked up from the user record and not signed " +
        '(the signed actor object keeps name null, so an erased person\'s name leaves every later export; after erasure it reads "Erased user").',
      tags: ["audit"],
      scopes: ["audit:read"],
      query: auditQuery,
      responses: {
        200: {
          description:
            "a streamed JSON Lines (application/x-ndjson) or CSV (text/csv) file; sent chunked, and cut off (no terminating chunk) if it fails midway: treat a connection error as a failed export",
        },
      },
    },
    (c, { query }) => exportAudit(deps, c, query),
  );
  return router;
}
