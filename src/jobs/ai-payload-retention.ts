/**
 * The payloads of calls to language models are kept, sealed, for VECTO_AI_PAYLOAD_RETENTION_DAYS
 * and then dropped; the call's record (provider, model, hash, sizes, tokens, outcome) stays, as its
 * audit event does. Run hourly by the scheduler (src/jobs/jobs.ts), so a payload outlives its
 * retention by at most an hour. Each tenant whose payloads were dropped gets an
 * ai.payloads_expired event in its own log.
 */
import type { Database } from "../db/db.js";

export async function expireAiPayloads(db: Database): Promise<number> {
  let expired = 0;
  for (const tenant of db.usageCounts.customerTenants()) {
    expired += await db.write((tx) => {
      const dropped = tx.tenant(tenant.id).aiCalls.expirePayloads(tx.now);
      if (dropped > 0)
        tx.audit({
          event: "ai.payloads_expired",
          sensitivity: "normal",
          severity: "info",
          tenantId: tenant.id,
          actor: { type: "system", id: "job:ai-payload-retention" },
          payload: { expired: dropped },
        });
      return dropped;
    });
  }
  return expired;
}
