/**
 * What each provider does with what it is sent: prompt cache, storage and retention, training use,
 * with the sources they were read from and the date they were read (datasheet 8.4: shown in the
 * tenant's AI settings). A static table, not fetched: the appliance may be air-gapped, and a
 * provider's policy page can change without notice, so each entry says when it was true and where
 * to check it. When sources disagree the entry says so instead of picking the kinder one.
 * A change to any text here bumps PROVIDER_POLICIES_VERSION.
 */
import type { ProviderId } from "./provider.js";

export const PROVIDER_POLICIES_VERSION = 1;

export interface PolicySource {
  readonly title: string;
  readonly url: string;
}

export interface ProviderPolicy {
  readonly provider: ProviderId;
  /** Whether a call sends tenant data to a third party outside the appliance. */
  readonly external: boolean;
  readonly promptCache: string;
  readonly storage: string;
  readonly training: string;
  /** Where the sources disagree, what each says; null when they agree. */
  readonly conflicting: string | null;
  readonly sources: readonly PolicySource[];
  /** The day the sources were read (YYYY-MM-DD). */
  readonly asOf: string;
}

const AS_OF = "2026-12-07";

export const PROVIDER_POLICIES: Readonly<Record<ProviderId, ProviderPolicy>> = {
  ollama: {
    provider: "ollama",
    external: false,
    promptCache:
      "After a request Ollama keeps the model loaded in memory for keep_alive (5 minutes by default) before unloading it.",
    storage:
      "Requests go to the Ollama server at VECTO_OLLAMA_URL, by default on the appliance's loopback address: then no data leaves the appliance. If an operator points VECTO_OLLAMA_URL at another host, requests go to that host.",
    training: "No third party receives the data; the model runs on the configured Ollama server.",
    conflicting: null,
    sources: [
      { title: "Ollama FAQ: keeping a model loaded", url: "https://github.com/ollama/ollama/blob/main/docs/faq.mdx" },
    ],
    asOf: AS_OF,
  },
  openai: {
    provider: "openai",
    external: true,
    promptCache:
      "Automatic for prompts of 1024 tokens or more (exact prefix match); Vecto sets no cache option, so OpenAI's default retention applies: in memory, or up to 24 hours with extended caching, which is the only option for gpt-5.5 and later models and the default for organisations without zero data retention.",
    storage:
      "Abuse-monitoring logs of all API use are kept up to 30 days unless the law requires longer; zero data retention needs OpenAI's prior approval. Vecto sends store: false, so no stored completion is kept.",
    training: "API data is not used to train OpenAI's models unless the organisation opts in.",
    conflicting: null,
    sources: [
      {
        title: "OpenAI: data controls in the OpenAI platform",
        url: "https://developers.openai.com/api/docs/guides/your-data",
      },
      { title: "OpenAI: prompt caching", url: "https://developers.openai.com/api/docs/guides/prompt-caching" },
      {
        title: "openai-java reference: PromptCacheRetention",
        url: "https://javadoc.io/static/com.openai/openai-java/4.42.0/com/openai/models/responses/ResponsesClientEvent.PromptCacheRetention.html",
      },
    ],
    asOf: AS_OF,
  },
  anthropic: {
    provider: "anthropic",
    external: true,
    promptCache:
      "Opt-in only (cache_control, 5 minutes or 1 hour). Vecto never sends cache_control, so no prompt is cached. When a structured answer is asked for, Anthropic caches the JSON schema (not the prompt) for up to 24 hours.",
    storage:
      "Inputs and outputs are deleted from Anthropic's backend within 30 days, unless a zero data retention agreement, a Usage Policy violation (flagged content kept up to 2 years, trust and safety scores up to 7 years) or the law says otherwise.",
    training: "Anthropic may not train models on API customer content (Commercial Terms).",
    conflicting:
      "Third-party pages report that API retention fell to 7 days from 2025-09-15; Anthropic's privacy center, cited here, says 30 days. Shown: up to 30 days.",
    sources: [
      {
        title: "Anthropic privacy center: how long do you store my organization's data?",
        url: "https://privacy.anthropic.com/en/articles/7996866-how-long-do-you-store-personal-data",
      },
      {
        title: "Claude docs: prompt caching",
        url: "https://platform.claude.com/docs/en/build-with-claude/prompt-caching",
      },
      {
        title: "Claude docs: structured outputs (data retention)",
        url: "https://platform.claude.com/docs/en/build-with-claude/structured-outputs",
      },
      { title: "Anthropic Commercial Terms of Service", url: "https://www.anthropic.com/legal/commercial-terms" },
      {
        title: "Third-party summary reporting 7-day retention",
        url: "https://dangerousrobot.org/research/sources/2025/claude-data-retention-policies-storage-rules-and-compliance-overview",
      },
    ],
    asOf: AS_OF,
  },
  google: {
    provider: "google",
    external: true,
    promptCache:
      "Implicit caching is on by default for most Gemini models (from 1,024 or 4,096 prompt tokens, by model); Vecto creates no explicit cached content.",
    storage: "Prompts, contextual information and output are kept 55 days for abuse monitoring.",
    training:
      "With unpaid services Google uses submitted content and responses to improve its products, and human reviewers may read them; paid services are not used that way. Only paid services may serve users in the EEA, Switzerland or the UK: use a paid-tier key.",
    conflicting: null,
    sources: [
      {
        title: "Gemini API: usage policies (abuse monitoring)",
        url: "https://ai.google.dev/gemini-api/docs/usage-policies",
      },
      { title: "Gemini API Additional Terms of Service", url: "https://ai.google.dev/gemini-api/terms" },
      { title: "Gemini API: context caching", url: "https://ai.google.dev/gemini-api/docs/caching" },
    ],
    asOf: AS_OF,
  },
};
