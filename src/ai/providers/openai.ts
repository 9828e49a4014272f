/**
 * OpenAI's Chat Completions API, streamed: `POST /v1/chat/completions` with `stream: true`, SSE
 * chunks of `choices[0].delta.content`, a last chunk with `usage` and empty `choices` (asked for by
 * `stream_options.include_usage`), then `data: [DONE]`. A stream without `[DONE]` was cut short.
 * `store: false` keeps the completion out of OpenAI's stored completions.
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
import type { ChatOptions, ChatPart, ChatProvider, ChatRequest, ChatUsage } from "./provider.js";

const ErrorBody = z.object({ error: z.object({ message: z.string(), type: z.string().nullish() }) });

const Chunk = z.object({
  choices: z
    .array(
      z.object({
        delta: z.object({ content: z.string().nullish(), refusal: z.string().nullish() }).nullish(),
        finish_reason: z.string().nullish(),
      }),
    )
    .nullish(),
  usage: z.object({ prompt_tokens: z.number().int(), completion_tokens: z.number().int() }).nullish(),
});

function errorText(body: unknown): string | null {
  const parsed = ErrorBody.safeParse(body);
  if (!parsed.success) return null;
  const { type, message } = parsed.data.error;
  return type ? `${type}: ${message}` : message;
}

/** The request body: the messages as they are, structured output as a strict JSON schema. */
function openAiBody(request: ChatRequest): Record<string, unknown> {
  return {
    model: request.model,
    messages: request.messages.map(({ role, content }) => ({ role, content })),
    stream: true,
    stream_options: { include_usage: true },
    store: false,
    ...(request.maxOutputTokens === undefined ? {} : { max_completion_tokens: request.maxOutputTokens }),
    ...(request.format === undefined
      ? {}
      : {
          response_format: {
            type: "json_schema",
            json_schema: { name: "answer", schema: request.format, strict: true },
          },
        }),
  };
}

export function openAiProvider({
  egress,
  apiKey,
  baseUrl = "https://api.openai.com",
}: ExternalProviderOptions): ChatProvider {
  return {
    id: "openai",
    chat(request: ChatRequest, options: ChatOptions): AsyncIterable<ChatPart> {
      const call: ExternalRequest = {
        provider: "openai",
        label: "OpenAI",
        url: apiUrl(baseUrl, "/v1/chat/completions"),
        headers: {
          authorization: `Bearer ${apiKey}`,
          "content-type": "application/json",
          accept: "text/event-stream",
        },
        body: JSON.stringify(openAiBody(request)),
        apiKey,
        errorText,
      };
      return stream(call, postForEvents(egress, call, options));
    },
  };
}

async function* stream(
  call: ExternalRequest,
  events: AsyncIterable<{ readonly data: string }>,
): AsyncGenerator<ChatPart> {
  let usage: ChatUsage = { promptTokens: null, outputTokens: null };
  let finish: string | null = null;
  let refusal = "";
  for await (const { data } of events) {
    if (data === "[DONE]") {
      if (refusal !== "") throw failed(call, `the model refused: ${refusal}`);
      if (finish === "content_filter") throw failed(call, "the answer was stopped by the content filter");
      yield { kind: "usage", usage };
      return;
    }
    const json = parseJson(data);
    const error = errorText(json);
    if (error !== null) throw failed(call, error);
    const chunk = Chunk.safeParse(json);
    if (!chunk.success) throw failed(call, "sent a chunk that is not a chat completion chunk");
    for (const choice of chunk.data.choices ?? []) {
      if (choice.delta?.content) yield { kind: "text", text: choice.delta.content };
      if (choice.delta?.refusal) refusal += choice.delta.refusal;
      if (choice.finish_reason) finish = choice.finish_reason;
    }
    if (chunk.data.usage) {
      usage = { promptTokens: chunk.data.usage.prompt_tokens, outputTokens: chunk.data.usage.completion_tokens };
    }
  }
  throw failed(call, "the stream ended before [DONE]");
}
