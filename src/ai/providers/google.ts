/**
 * Google's Gemini API (an AI Studio key), streamed: `POST /v1beta/models/{model}:streamGenerateContent?alt=sse`
 * with the key in the `x-goog-api-key` header, never in the URL (a URL ends up in logs). Every SSE
 * event is a whole GenerateContentResponse; usage comes as running totals in `usageMetadata`.
 * There is no end marker: the last event carries the candidate's `finishReason`, and a stream that
 * ends without one was cut short.
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
import type { SseEvent } from "./sse.js";

const ErrorBody = z.object({ error: z.object({ message: z.string(), status: z.string().nullish() }) });
const Tokens = z.number().int().nullish();
const Answer = z.object({
  candidates: z
    .array(
      z.object({
        content: z
          .object({
            parts: z.array(z.object({ text: z.string().nullish(), thought: z.boolean().nullish() })).nullish(),
          })
          .nullish(),
        finishReason: z.string().nullish(),
      }),
    )
    .nullish(),
  promptFeedback: z.object({ blockReason: z.string().nullish() }).nullish(),
  usageMetadata: z
    .object({ promptTokenCount: Tokens, candidatesTokenCount: Tokens, thoughtsTokenCount: Tokens })
    .nullish(),
});

/** Finish reasons of a whole answer: the model stopped, or reached the caller's token bound. Any other (SAFETY, RECITATION, …) withheld it. */
const COMPLETE = new Set(["STOP", "MAX_TOKENS"]);

function errorText(body: unknown): string | null {
  const parsed = ErrorBody.safeParse(body);
  if (!parsed.success) return null;
  const { status, message } = parsed.data.error;
  return status ? `${status}: ${message}` : message;
}

/**
 * The request body: system messages as `systemInstruction`, assistant turns as role "model".
 * Structured output goes in `responseJsonSchema`, which takes JSON Schema (`responseSchema` takes
 * an OpenAPI subset and refuses `additionalProperties`, which the other providers' strict modes need).
 */
function googleBody(request: ChatRequest): Record<string, unknown> {
  const system = request.messages.filter((m) => m.role === "system").map((m) => ({ text: m.content }));
  const generationConfig = {
    ...(request.maxOutputTokens === undefined ? {} : { maxOutputTokens: request.maxOutputTokens }),
    ...(request.format === undefined
      ? {}
      : { responseMimeType: "application/json", responseJsonSchema: request.format }),
  };
  return {
    contents: request.messages
      .filter((m) => m.role !== "system")
      .map((m) => ({ role: m.role === "assistant" ? "model" : "user", parts: [{ text: m.content }] })),
    ...(system.length === 0 ? {} : { systemInstruction: { parts: system } }),
    ...(Object.keys(generationConfig).length === 0 ? {} : { generationConfig }),
  };
}

/** The model's path segment: a leading "models/" (as Google lists them) dropped, the rest encoded so it stays one segment. */
function modelSegment(model: string): string {
  return encodeURIComponent(model.replace(/^models\//, ""));
}

export function googleProvider({
  egress,
  apiKey,
  baseUrl = "https://generativelanguage.googleapis.com",
}: ExternalProviderOptions): ChatProvider {
  return {
    id: "google",
    chat(request: ChatRequest, options: ChatOptions): AsyncIterable<ChatPart> {
      const call: ExternalRequest = {
        provider: "google",
        label: "Google",
        url: apiUrl(baseUrl, `/v1beta/models/${modelSegment(request.model)}:streamGenerateContent?alt=sse`),
        headers: { "x-goog-api-key": apiKey, "content-type": "application/json", accept: "text/event-stream" },
        body: JSON.stringify(googleBody(request)),
        apiKey,
        errorText,
      };
      return stream(call, postForEvents(egress, call, options));
    },
  };
}

async function* stream(call: ExternalRequest, events: AsyncIterable<SseEvent>): AsyncGenerator<ChatPart> {
  let usage: ChatUsage = { promptTokens: null, outputTokens: null };
  let finish: string | null = null;
  for await (const { data } of events) {
    const json = parseJson(data);
    const error = errorText(json);
    if (error !== null) throw failed(call, error);
    const parsed = Answer.safeParse(json);
    if (!parsed.success) throw failed(call, "sent an event that is not a GenerateContentResponse");
    const { candidates, promptFeedback, usageMetadata } = parsed.data;
    if (promptFeedback?.blockReason) throw failed(call, `the prompt was blocked (${promptFeedback.blockReason})`);
    const candidate = candidates?.[0];
    for (const part of candidate?.content?.parts ?? []) {
      if (part.text && !part.thought) yield { kind: "text", text: part.text };
    }
    if (usageMetadata) {
      // Thinking tokens are output the model produced (and billed), though not shown.
      const output =
        usageMetadata.candidatesTokenCount === null || usageMetadata.candidatesTokenCount === undefined
          ? null
          : usageMetadata.candidatesTokenCount + (usageMetadata.thoughtsTokenCount ?? 0);
      usage = { promptTokens: usageMetadata.promptTokenCount ?? null, outputTokens: output };
    }
    if (candidate?.finishReason) finish = candidate.finishReason;
  }
  if (finish === null) throw failed(call, "the stream ended before a finish reason");
  if (!COMPLETE.has(finish)) throw failed(call, `the answer was withheld (${finish})`);
  yield { kind: "usage", usage };
}
