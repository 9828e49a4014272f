/**
 * Reading back a recorded call to a language model (GET /api/ai/calls/:callId): its facts, and its
 * payload (the request exactly as sent, and the answer) while the retention keeps it. The payload
 * is tenant content sent out of the graph, so it is an auditor's to read: `audit:security` only.
 */
import type { Principal } from "../auth/principal.js";
import type { CryptoService, FieldRef } from "../crypto/index.js";
import type { AiCallRecord } from "../db/repositories/ai-calls.js";
import type { TenantDb } from "../db/tenant-db.js";
import { DomainError } from "../errors.js";

/** What a call's sealed payload is bound to (src/db/encrypted-columns.ts): its row, no other. */
export function aiPayloadRef(callId: string): FieldRef {
  return { table: "ai_calls", column: "payload", rowId: callId };
}

export interface AiCallView extends Omit<AiCallRecord, "payloadEnc" | "payloadExpiresAt"> {
  /** null once the retention ended, or when none was kept. */
  readonly payload: { readonly request: string; readonly output: string } | null;
  readonly payloadExpiresAt: string | null;
}

export async function readAiCall(
  crypto: CryptoService,
  tenantDb: TenantDb,
  principal: Principal,
  callId: string,
): Promise<AiCallView> {
  if (!principal.scopes.has("audit:security"))
    throw new DomainError("forbidden", "reading what was sent to a language model needs audit:security");
  const call = tenantDb.aiCalls.get(callId);
  if (!call) throw new DomainError("not-found", "no such call");
  const { payloadEnc, ...facts } = call;
  const payload =
    payloadEnc === null
      ? null
      : (JSON.parse(await crypto.decryptField(tenantDb.tenantId, aiPayloadRef(call.id), payloadEnc)) as {
          request: string;
          output: string;
        });
  return { ...facts, payload };
}
