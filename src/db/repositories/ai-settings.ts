/**
 * A tenant's AI settings (migration 0016): the provider and model per use case, and the external
 * providers it enabled with the name of the secret holding each one's API key. Every statement
 * binds tenant_id.
 */
import type BetterSqlite3 from "better-sqlite3";
import type { AiUseCaseSetting, ExternalProviderId, ProviderId } from "../../vocabulary/ai.js";
import { statement } from "../statements.js";

export interface UseCaseRecord {
  readonly useCase: AiUseCaseSetting;
  readonly provider: ProviderId;
  readonly model: string;
  readonly updatedBy: string;
  readonly updatedAt: string;
}

export interface ProviderRecord {
  readonly provider: ExternalProviderId;
  readonly enabled: boolean;
  readonly apiKeySecret: string;
  readonly updatedBy: string;
  readonly updatedAt: string;
}

interface UseCaseRow {
  use_case: AiUseCaseSetting;
  provider: ProviderId;
  model: string;
  updated_by: string;
  updated_at: string;
}

interface ProviderRow {
  provider: ExternalProviderId;
  enabled: number;
  api_key_secret: string;
  updated_by: string;
  updated_at: string;
}

export class AiSettingsRepository {
  /** What a read handle (TenantDb) may call. */
  static readonly reads = ["useCases", "providers"] as const;

  constructor(
    private readonly handle: BetterSqlite3.Database,
    readonly tenantId: string,
  ) {}

  useCases(): UseCaseRecord[] {
    return statement<[string], UseCaseRow>(
      this.handle,
      "SELECT use_case, provider, model, updated_by, updated_at FROM ai_use_cases WHERE tenant_id = ? ORDER BY use_case",
    )
      .all(this.tenantId)
      .map((row) => ({
        useCase: row.use_case,
        provider: row.provider,
        model: row.model,
        updatedBy: row.updated_by,
        updatedAt: row.updated_at,
      }));
  }

  providers(): ProviderRecord[] {
    return statement<[string], ProviderRow>(
      this.handle,
      "SELECT provider, enabled, api_key_secret, updated_by, updated_at FROM ai_providers WHERE tenant_id = ? ORDER BY provider",
    )
      .all(this.tenantId)
      .map((row) => ({
        provider: row.provider,
        enabled: row.enabled === 1,
        apiKeySecret: row.api_key_secret,
        updatedBy: row.updated_by,
        updatedAt: row.updated_at,
      }));
  }

  setUseCase(record: UseCaseRecord): void {
    statement(
      this.handle,
      "INSERT INTO ai_use_cases (tenant_id, use_case, provider, model, updated_by, updated_at) VALUES (?, ?, ?, ?, ?, ?) " +
        "ON CONFLICT (tenant_id, use_case) DO UPDATE SET provider = excluded.provider, model = excluded.model, " +
        "updated_by = excluded.updated_by, updated_at = excluded.updated_at " +
        "WHERE ai_use_cases.tenant_id = excluded.tenant_id",
    ).run(this.tenantId, record.useCase, record.provider, record.model, record.updatedBy, record.updatedAt);
  }

  removeUseCase(useCase: AiUseCaseSetting): void {
    statement(this.handle, "DELETE FROM ai_use_cases WHERE tenant_id = ? AND use_case = ?").run(this.tenantId, useCase);
  }

  setProvider(record: ProviderRecord): void {
    statement(
      this.handle,
      "INSERT INTO ai_providers (tenant_id, provider, enabled, api_key_secret, updated_by, updated_at) VALUES (?, ?, ?, ?, ?, ?) " +
        "ON CONFLICT (tenant_id, provider) DO UPDATE SET enabled = excluded.enabled, api_key_secret = excluded.api_key_secret, " +
        "updated_by = excluded.updated_by, updated_at = excluded.updated_at " +
        "WHERE ai_providers.tenant_id = excluded.tenant_id",
    ).run(
      this.tenantId,
      record.provider,
      record.enabled ? 1 : 0,
      record.apiKeySecret,
      record.updatedBy,
      record.updatedAt,
    );
  }
}
