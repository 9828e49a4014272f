/** The adapter for each provider, every one reaching out through the process's egress guard. */
import type { Egress } from "../../egress.js";
import type { ProviderConnector } from "../invoke.js";
import { anthropicProvider } from "./anthropic.js";
import { googleProvider } from "./google.js";
import { ollamaProvider } from "./ollama.js";
import { openAiProvider } from "./openai.js";
import type { ProviderId } from "./provider.js";

function keyOf(provider: ProviderId, apiKey: string | null): string {
  // settings.ts hands an external provider's secret name to every call; a missing one is a bug here, not input.
  if (apiKey === null) throw new Error(`${provider} needs an API key`);
  return apiKey;
}

export function providerConnector(egress: Egress, ollamaUrl: string): ProviderConnector {
  return (provider, apiKey) => {
    switch (provider) {
      case "ollama":
        return ollamaProvider({ url: ollamaUrl, egress });
      case "openai":
        return openAiProvider({ egress, apiKey: keyOf(provider, apiKey) });
      case "anthropic":
        return anthropicProvider({ egress, apiKey: keyOf(provider, apiKey) });
      case "google":
        return googleProvider({ egress, apiKey: keyOf(provider, apiKey) });
    }
  };
}
