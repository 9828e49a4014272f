/**
 * The AI governance vocabulary shared by every layer: which language-model providers exist, which
 * are outside the appliance, and the use cases a tenant configures a provider and model for.
 */

export const PROVIDER_IDS = ["ollama", "openai", "anthropic", "google"] as const;
export type ProviderId = (typeof PROVIDER_IDS)[number];

/** Providers outside the appliance: off unless a tenant admin enables them, always refused when air-gapped. */
export const EXTERNAL_PROVIDER_IDS = ["openai", "anthropic", "google"] as const;
export type ExternalProviderId = (typeof EXTERNAL_PROVIDER_IDS)[number];

export function isExternalProvider(provider: ProviderId): provider is ExternalProviderId {
  return (EXTERNAL_PROVIDER_IDS as readonly string[]).includes(provider);
}

/** What the appliance asks a model to do; "default" is the setting for any use case without its own. */
export const AI_USE_CASES = ["summarize", "links", "decision-draft"] as const;
export type AiUseCase = (typeof AI_USE_CASES)[number];
export type AiUseCaseSetting = AiUseCase | "default";

/** How a call to a model ended, as ai.invoked and the call record say. */
export const AI_CALL_OUTCOMES = ["ok", "failed", "timeout", "unreachable", "refused", "aborted"] as const;
export type AiCallOutcome = (typeof AI_CALL_OUTCOMES)[number];
