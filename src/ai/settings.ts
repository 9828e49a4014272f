/**
 * A tenant's AI settings (GET|PUT /api/ai/settings): which provider and model each use case calls,
 * and which external providers the tenant enabled with the secret holding each one's API key.
 * Ollama on loopback needs no enabling; an external provider is off until a tenant admin enables
 * it, and on an air-gapped appliance (VECTO_AIRGAPPED=true) it is refused even then. Changes are
 * the tenant admin's, a person's, and are audited as ai.settings_changed.
 */
import { actorOf, type Principal } from "../auth/principal.js";
import type { UseCaseRecord } from "../db/repositories/ai-settings.js";
import type { TenantDb } from "../db/tenant-db.js";
import { DomainError } from "../errors.js";
import { requireTenantAdmin } from "../graph/projects.js";
import {
  AI_USE_CASES,
  EXTERNAL_PROVIDER_IDS,
  isExternalProvider,
  PROVIDER_IDS,
  type AiUseCase,
  type AiUseCaseSetting,
  type ExternalProviderId,
  type ProviderId,
} from "../vocabulary/ai.js";
import { PROVIDER_POLICIES, type ProviderPolicy } from "./providers/policies.js";

/** What the appliance itself allows, from its configuration. */
export interface AiPlatform {
  readonly airgapped: boolean;
  readonly ollamaUrl: string;
}

export interface ModelChoice {
  readonly provider: ProviderId;
  readonly model: string;
}

export interface ProviderView {
  readonly external: boolean;
  /** Ollama is always enabled; an external provider only when a tenant admin enabled it. */
  readonly enabled: boolean;
  /** The tenant secret holding the API key (external providers); never the key. */
  readonly apiKeySecret: string | null;
  /** Why a call to it would be refused now; null when it can be called. */
  readonly refusal: string | null;
  /** Prompt-cache, storage and training policy of the provider, with sources and the date read (datasheet 8.4). */
  readonly policy: ProviderPolicy;
}

export interface AiSettingsView {
  readonly airgapped: boolean;
  readonly ollamaUrl: string;
  /** Per use case, and "default" for those without their own; null: not configured. */
  readonly useCases: Readonly<Record<AiUseCaseSetting, ModelChoice | null>>;
  readonly providers: Readonly<Record<ProviderId, ProviderView>>;
}

export interface AiSettingsChange {
  readonly useCases?: Partial<Record<AiUseCaseSetting, ModelChoice | null>>;
  readonly providers?: Partial<
    Record<ExternalProviderId, { readonly enabled: boolean; readonly apiKeySecret: string }>
  >;
}

const SETTINGS: readonly AiUseCaseSetting[] = ["default", ...AI_USE_CASES];

/** Why a provider may not be called now, or null. */
export function providerRefusal(
  platform: AiPlatform,
  provider: ProviderId,
  enabled: ReadonlySet<ProviderId>,
): string | null {
  if (!isExternalProvider(provider)) return null;
  if (platform.airgapped)
    return `${provider} is an external provider and this appliance is air-gapped (VECTO_AIRGAPPED=true): no tenant data may leave it`;
  if (!enabled.has(provider))
    return `${provider} is an external provider the tenant has not enabled (PUT /api/ai/settings)`;
  return null;
}

function enabledProviders(tenantDb: TenantDb): Map<ExternalProviderId, string> {
  const enabled = new Map<ExternalProviderId, string>();
  for (const record of tenantDb.aiSettings.providers())
    if (record.enabled) enabled.set(record.provider, record.apiKeySecret);
  return enabled;
}

export function aiSettings(platform: AiPlatform, tenantDb: TenantDb): AiSettingsView {
  const stored = new Map(tenantDb.aiSettings.useCases().map((record) => [record.useCase, record]));
  const providerRecords = new Map(tenantDb.aiSettings.providers().map((record) => [record.provider, record]));
  const enabled = new Set<ProviderId>(enabledProviders(tenantDb).keys());
  const useCases = Object.fromEntries(
    SETTINGS.map((useCase) => {
      const record = stored.get(useCase);
      return [useCase, record ? { provider: record.provider, model: record.model } : null];
    }),
  ) as Record<AiUseCaseSetting, ModelChoice | null>;
  const providers = Object.fromEntries(
    PROVIDER_IDS.map((provider) => {
      const record = isExternalProvider(provider) ? providerRecords.get(provider) : undefined;
      const view: ProviderView = {
        external: isExternalProvider(provider),
        enabled: !isExternalProvider(provider) || record?.enabled === true,
        apiKeySecret: record?.apiKeySecret ?? null,
        refusal: providerRefusal(platform, provider, enabled),
        policy: PROVIDER_POLICIES[provider],
      };
      return [provider, view];
    }),
  ) as Record<ProviderId, ProviderView>;
  return { airgapped: platform.airgapped, ollamaUrl: platform.ollamaUrl, useCases, providers };
}

/** Who may change the settings: a tenant admin, in person, with a tenant-wide credential. */
function requireSettingsAdmin(principal: Principal): void {
  requireTenantAdmin(principal, "change the AI settings");
  if (principal.actorKind !== "human") throw new DomainError("forbidden", "only a person may change the AI settings");
}

function checkChange(tenantDb: TenantDb, change: AiSettingsChange): void {
  for (const [provider, setting] of Object.entries(change.providers ?? {})) {
    if (setting?.enabled && !tenantDb.secrets.get(setting.apiKeySecret))
      throw new DomainError(
        "rejected",
        `no tenant secret named ${setting.apiKeySecret}: store ${provider}'s API key first (POST /api/secrets)`,
      );
  }
  const enabled = new Set<ProviderId>(enabledProviders(tenantDb).keys());
  for (const [provider, setting] of Object.entries(change.providers ?? {})) {
    if (setting?.enabled) enabled.add(provider as ExternalProviderId);
    else enabled.delete(provider as ExternalProviderId);
  }
  for (const [useCase, choice] of Object.entries(change.useCases ?? {})) {
    if (choice && isExternalProvider(choice.provider) && !enabled.has(choice.provider))
      throw new DomainError("rejected", `${useCase}: enable ${choice.provider} before choosing it`);
  }
}

export async function updateAiSettings(
  platform: AiPlatform,
  tenantDb: TenantDb,
  principal: Principal,
  change: AiSettingsChange,
): Promise<AiSettingsView> {
  requireSettingsAdmin(principal);
  checkChange(tenantDb, change);
  await tenantDb.write((tx) => {
    for (const [useCase, choice] of Object.entries(change.useCases ?? {}) as [AiUseCaseSetting, ModelChoice | null][]) {
      if (choice === null) tx.aiSettings.removeUseCase(useCase);
      else tx.aiSettings.setUseCase({ useCase, ...choice, updatedBy: principal.userId, updatedAt: tx.now });
    }
    for (const provider of EXTERNAL_PROVIDER_IDS) {
      const setting = change.providers?.[provider];
      if (setting) tx.aiSettings.setProvider({ provider, ...setting, updatedBy: principal.userId, updatedAt: tx.now });
    }
    tx.audit({
      event: "ai.settings_changed",
      sensitivity: "security",
      severity: "info",
      tenantId: tenantDb.tenantId,
      actor: actorOf(principal),
      payload: {
        useCases: Object.keys(change.useCases ?? {}).join(","),
        providers: Object.entries(change.providers ?? {})
          .map(([provider, setting]) => `${provider}:${setting?.enabled ? "enabled" : "disabled"}`)
          .join(","),
      },
    });
  });
  return aiSettings(platform, tenantDb);
}

/** The provider, model and (for an external one) API-key secret a use case calls, or why it cannot be called. */
export interface ResolvedChoice extends ModelChoice {
  readonly apiKeySecret: string | null;
  readonly refusal: string | null;
}

export function resolveUseCase(platform: AiPlatform, tenantDb: TenantDb, useCase: AiUseCase): ResolvedChoice {
  const records = new Map<AiUseCaseSetting, UseCaseRecord>(
    tenantDb.aiSettings.useCases().map((record) => [record.useCase, record]),
  );
  const record = records.get(useCase) ?? records.get("default");
  if (!record)
    throw new DomainError(
      "conflict",
      `no model is configured for ${useCase}: a tenant admin chooses one with PUT /api/ai/settings (GET /api/ai/models lists Ollama's)`,
    );
  const enabled = enabledProviders(tenantDb);
  const apiKeySecret = isExternalProvider(record.provider) ? (enabled.get(record.provider) ?? null) : null;
  return {
    provider: record.provider,
    model: record.model,
    apiKeySecret,
    refusal: providerRefusal(platform, record.provider, new Set(enabled.keys())),
  };
}
