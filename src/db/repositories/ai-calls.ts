/**
 * The record of every call to a language model (migration 0016): what its ai.invoked audit event
 * says, and the payload sealed with the tenant's data key until its retention ends. Only
 * ciphertext passes through here. Every statement binds tenant_id.
 */
import type BetterSqlite3 from "better-sqlite3";
import type { ActorKind } from "../../vocabulary/events.js";
import type { AiCallOutcome } from "../../vocabulary/ai.js";
import { statement } from "../statements.js";

export interface AiCallRecord {
  readonly id: string;
  readonly projectId: string | null;
  readonly actorType: ActorKind;
  readonly actorId: string;
  readonly useCase: string;
  readonly provider: string;
  readonly model: string;
  readonly outcome: AiCallOutcome;
  /** SHA-256 (hex) of the request body sent; null when nothing was sent. */
  readonly payloadSha256: string | null;
  readonly payloadBytes: number;
  readonly promptTokens: number | null;
  readonly outputTokens: number | null;
  readonly durationMs: number;
  readonly createdAt: string;
  /** Sealed under (ai_calls, payload, id); null once retention ended, or when none was kept. */
  readonly payloadEnc: Uint8Array | null;
  readonly payloadExpiresAt: string | null;
}

interface AiCallRow {
  id: string;
  project_id: string | null;
  actor_type: ActorKind;
  actor_id: string;
  use_case: string;
  provider: string;
  model: string;
  outcome: AiCallOutcome;
  payload_sha256: string | null;
  payload_bytes: number;
  prompt_tokens: number | null;
  output_tokens: number | null;
  duration_ms: number;
  created_at: string;
  payload_enc: Buffer | null;
  payload_expires_at: string | null;
}

const COLUMNS =
  "id, project_id, actor_type, actor_id, use_case, provider, model, outcome, payload_sha256, payload_bytes, " +
  "prompt_tokens, output_tokens, duration_ms, created_at, payload_enc, payload_expires_at";

function toCall(row: AiCallRow): AiCallRecord {
  return {
    id: row.id,
    projectId: row.project_id,
    actorType: row.actor_type,
    actorId: row.actor_id,
    useCase: row.use_case,
    provider: row.provider,
    model: row.model,
    outcome: row.outcome,
    payloadSha256: row.payload_sha256,
    payloadBytes: row.payload_bytes,
    promptTokens: row.prompt_tokens,
    outputTokens: row.output_tokens,
    durationMs: row.duration_ms,
    createdAt: row.created_at,
    payloadEnc: row.payload_enc === null ? null : new Uint8Array(row.payload_enc),
    payloadExpiresAt: row.payload_expires_at,
  };
}

export class AiCallRepository {
  /** What a read handle (TenantDb) may call. */
  static readonly reads = ["get", "countByProvider"] as const;

  constructor(
    private readonly handle: BetterSqlite3.Database,
    readonly tenantId: string,
  ) {}

  get(id: string): AiCallRecord | undefined {
    const row = statement<[string, string], AiCallRow>(
      this.handle,
      `SELECT ${COLUMNS} FROM ai_calls WHERE tenant_id = ? AND id = ?`,
    ).get(this.tenantId, id);
    return row ? toCall(row) : undefined;
  }

  /** Calls made in [from, to) per provider, every outcome: what the usage report counts. */
  countByProvider(from: string, to: string): Record<string, number> {
    const rows = statement<[string, string, string], { provider: string; n: number }>(
      this.handle,
      "SELECT provider, count(*) AS n FROM ai_calls WHERE tenant_id = ? AND created_at >= ? AND created_at < ? GROUP BY provider",
    ).all(this.tenantId, from, to);
    return Object.fromEntries(rows.map((row) => [row.provider, row.n]));
  }

  insert(call: AiCallRecord): void {
    statement(
      this.handle,
      `INSERT INTO ai_calls (tenant_id, ${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      this.tenantId,
      call.id,
      call.projectId,
      call.actorType,
      call.actorId,
      call.useCase,
      call.provider,
      call.model,
      call.outcome,
      call.payloadSha256,
      call.payloadBytes,
      call.promptTokens,
      call.outputTokens,
      call.durationMs,
      call.createdAt,
      call.payloadEnc === null ? null : Buffer.from(call.payloadEnc),
      call.payloadExpiresAt,
    );
  }

  /** Drops the payloads whose retention ended by `now` (secure_delete overwrites the freed bytes); the count dropped. */
  expirePayloads(now: string): number {
    return statement(
      this.handle,
      "UPDATE ai_calls SET payload_enc = NULL, payload_expires_at = NULL " +
        "WHERE tenant_id = ? AND payload_enc IS NOT NULL AND payload_expires_at <= ?",
    ).run(this.tenantId, now).changes;
  }
}
