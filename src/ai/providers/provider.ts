/**
 * What the appliance asks of a language model, whoever serves it: Ollama on loopback (the default
 * and first-class), or an external provider a tenant admin enabled. Every adapter speaks this one
 * shape, sends its requests through src/egress.ts, and reports the request body it sent byte for
 * byte, because the audit trail records a hash of exactly what left the appliance.
 */

import type { ProviderId } from "../../vocabulary/ai.js";

export type { ProviderId } from "../../vocabulary/ai.js";

export interface ChatMessage {
  readonly role: "system" | "user" | "assistant";
  readonly content: string;
}

export interface ChatRequest {
  readonly model: string;
  /** Instructions in the system message; tenant content only in delimited data sections (src/ai/prompt.ts). */
  readonly messages: readonly ChatMessage[];
  /** A JSON Schema the answer must follow, for use cases that parse it (structured output). */
  readonly format?: Readonly<Record<string, unknown>>;
  /** An upper bound on the answer's tokens. */
  readonly maxOutputTokens?: number;
}

/** Token counts as the provider reports them; null when it reported none (a stream cut short). */
export interface ChatUsage {
  readonly promptTokens: number | null;
  readonly outputTokens: number | null;
}

/** A streamed answer: text as it arrives, then once at the end the usage. */
export type ChatPart =
  { readonly kind: "text"; readonly text: string } | { readonly kind: "usage"; readonly usage: ChatUsage };

export interface ChatOptions {
  /** Aborts the request and the stream: a timeout, or the client that asked went away. */
  readonly signal: AbortSignal;
  /** Called once with the request body as sent, before the request leaves. */
  readonly sent: (body: string) => void;
}

export interface ModelInfo {
  readonly name: string;
  readonly sizeBytes: number | null;
  readonly modifiedAt: string | null;
  readonly family: string | null;
  readonly parameterSize: string | null;
}

export interface ChatProvider {
  readonly id: ProviderId;
  /** Streams the answer. Throws ProviderError (before or during the stream) when the provider fails. */
  chat(request: ChatRequest, options: ChatOptions): AsyncIterable<ChatPart>;
}

/**
 * Why a call to a provider failed, as the client should hear it:
 * - unreachable: nothing answers at the configured address (503, naming it);
 * - timeout: no answer in time (504);
 * - failed: the provider answered with an error, broke off mid-stream or sent what we cannot use (502);
 * - refused: this appliance may not call it (air-gapped, not enabled, not on the egress allow-list; 409).
 */
export type ProviderFailure = "unreachable" | "timeout" | "failed" | "refused";

export class ProviderError extends Error {
  override readonly name = "ProviderError";
  constructor(
    readonly failure: ProviderFailure,
    readonly provider: ProviderId,
    message: string,
  ) {
    super(message);
  }
}
