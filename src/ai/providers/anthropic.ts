/**
 * Anthropic's Messages API, streamed: `POST /v1/messages` with `stream: true`; the system prompt is
 * a top-level field, `max_tokens` is required. Events: `message_start` (input tokens),
 * `content_block_delta` (text), `message_delta` (stop reason, output tokens so far), `message_stop`
 * (the end), `ping`, and `error`, which can arrive after a 200. No `cache_control` is ever sent, so
 * Anthropic caches no prompt of ours (prompt caching there is opt-in).
 */
import { z } from "zod";
import {
  apiUrl,
  failed,
  parseJson,
  postForEvents,
  type ExternalProviderOptions,
  type ExternalRequest,
} from "./external-call.js";
import type { ChatOptions, ChatPart, ChatProvider, ChatRequest } from "./provider.js";
import type { SseEvent } from "./sse.js";

/** The API version the request and event shapes here follow; Anthropic requires the header on every request. */
export const ANTHROPIC_VERSION = "2023-06-01";
/** `max_tokens` when the caller sets no bound: room for a drafted record, which a truncated JSON answer would fail. */
export const ANTHROPIC_DEFAULT_MAX_TOKENS = 4096;

const Typed = z.object({ type: z.string() });
const ErrorBody = z.object({ error: z.object({ type: z.string().nullish(), message: z.string() }) });
const Tokens = z.number().int().nullish();
const Usage = z.object({
  input_tokens: Tokens,
  output_tokens: Tokens,
  cache_creation_input_tokens: Tokens,
  cache_read_input_tokens: Tokens,
});
const MessageStart = z.object({ message: z.object({ usage: Usage.nullish() }) });
const BlockDelta = z.object({ delta: z.object({ type: z.string(), text: z.string().nullish() }) });
const MessageDelta = z.object({
  delta: z.object({ stop_reason: z.string().nullish() }).nullish(),
  usage: Usage.nullish(),
});

function errorText(body: unknown): string | null {
  const parsed = ErrorBody.safeParse(body);
  if (!parsed.success) return null;
  const { type, message } = parsed.data.error;
  return type ? `${type}: ${message}` : message;
}

/** The request body: system messages joined into the top-level `system`, the rest as the conversation. */
function anthropicBody(request: ChatRequest): Record<string, unknown> {
  const system = request.messages.filter((m) => m.role === "system").map((m) => m.content);
  return {
    model: request.model,
    max_tokens: request.maxOutputTokens ?? ANTHROPIC_DEFAULT_MAX_TOKENS,
    ...(system.length === 0 ? {} : { system: system.join("\n\n") }),
    messages: request.messages.filter((m) => m.role !== "system").map(({ role, content }) => ({ role, content })),
    stream: true,
    ...(request.format === undefined
      ? {}
      : { output_config: { format: { type: "json_schema", schema: request.format } } }),
  };
}

export function anthropicProvider({
  egress,
  apiKey,
  baseUrl = "https://api.anthropic.com",
}: ExternalProviderOptions): ChatProvider {
  return {
    id: "anthropic",
    chat(request: ChatRequest, options: ChatOptions): AsyncIterable<ChatPart> {
      const call: ExternalRequest = {
        provider: "anthropic",
        label: "Anthropic",
        url: apiUrl(baseUrl, "/v1/messages"),
        headers: {
          "x-api-key": apiKey,
          "anthropic-version": ANTHROPIC_VERSION,
          "content-type": "application/json",
          accept: "text/event-stream",
        },
        body: JSON.stringify(anthropicBody(request)),
        apiKey,
        errorText,
      };
      return stream(call, postForEvents(egress, call, options));
    },
  };
}

/** Input tokens, counting cached ones too (none while we send no cache_control, but the count stays honest). */
function inputTokens(usage: z.infer<typeof Usage>): number | null {
  if (usage.input_tokens === null || usage.input_tokens === undefined) return null;
  return usage.input_tokens + (usage.cache_creation_input_tokens ?? 0) + (usage.cache_read_input_tokens ?? 0);
}

async function* stream(call: ExternalRequest, events: AsyncIterable<SseEvent>): AsyncGenerator<ChatPart> {
  let promptTokens: number | null = null;
  let outputTokens: number | null = null;
  let stopReason: string | null = null;
  for await (const { event, data } of events) {
    const json = parseJson(data);
    // Every event's data names its type too; the `event:` line is the one Anthropic documents.
    switch (event ?? Typed.safeParse(json).data?.type) {
      case "message_start": {
        const usage = MessageStart.safeParse(json).data?.message.usage;
        if (usage) {
          promptTokens = inputTokens(usage);
          outputTokens = usage.output_tokens ?? outputTokens;
        }
        break;
      }
      case "content_block_delta": {
        const delta = BlockDelta.safeParse(json);
        if (!delta.success) throw failed(call, "sent a content block delta without a delta");
        if (delta.data.delta.type === "text_delta" && delta.data.delta.text) {
          yield { kind: "text", text: delta.data.delta.text };
        }
        break;
      }
      case "message_delta": {
        const delta = MessageDelta.safeParse(json).data;
        stopReason = delta?.delta?.stop_reason ?? stopReason;
        if (delta?.usage) {
          outputTokens = delta.usage.output_tokens ?? outputTokens;
          promptTokens = inputTokens(delta.usage) ?? promptTokens;
        }
        break;
      }
      case "error":
        throw failed(call, errorText(json) ?? "sent an error event");
      case "message_stop":
        if (stopReason === "refusal") throw failed(call, "the model refused to answer");
        yield { kind: "usage", usage: { promptTokens, outputTokens } };
        return;
    }
  }
  throw failed(call, "the stream ended before message_stop");
}
