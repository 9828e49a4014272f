/**
 * The Ollama provider: the official `ollama` client, with every request it makes going out through
 * src/egress.ts (the client takes a custom fetch function; it never calls the global one then).
 *
 * One client per call. The client (0.6.4) takes no AbortSignal per request and can only abort all
 * its streams at once, so each call builds its own client whose fetch function joins the call's
 * signal (a timeout, or the client that asked going away) to the client's own per-stream signal.
 * An aborted fetch closes the connection, which is how Ollama notices and stops generating. A
 * stream left early is aborted in `finally`: the client does not cancel the response body when
 * iteration stops, and an unread stream keeps Ollama generating (ollama-js issue #39).
 */
import { Ollama, type AbortableAsyncIterator, type ChatResponse, type Fetch } from "ollama";
import { z } from "zod";
import type { Egress } from "../../egress.js";
import { ndjsonChecked } from "./ndjson-guard.js";
import { connectFailure, ollamaFailure, shownUrl } from "./ollama-failures.js";
import {
  ProviderError,
  type ChatOptions,
  type ChatPart,
  type ChatProvider,
  type ChatRequest,
  type ChatUsage,
  type ModelInfo,
} from "./provider.js";

/** The purpose every request to Ollama names at the egress door. */
export const OLLAMA_EGRESS_PURPOSE = "ai.ollama";

export interface OllamaProviderOptions {
  /** The configured address (VECTO_OLLAMA_URL), e.g. http://127.0.0.1:11434. */
  readonly url: string;
  readonly egress: Egress;
}

export interface OllamaProvider extends ChatProvider {
  readonly id: "ollama";
  /** The configured address, as messages name it (no user:password). */
  readonly url: string;
  /** The models this Ollama has (GET /api/tags). */
  listModels(signal: AbortSignal): Promise<ModelInfo[]>;
  /** The version this Ollama reports (GET /api/version). */
  version(signal: AbortSignal): Promise<string>;
}

/**
 * Ollama answers JSON or NDJSON, errors included. Anything else is another service at that address
 * (a proxy's error page, a web server): refused here, because the client would print its lines
 * on the console (every line that is not JSON, and the text of a non-JSON error). A streamed body
 * is checked line by line as it comes, for the same reason.
 */
async function onlyJson(response: Response, url: string): Promise<Response> {
  const type = (response.headers.get("content-type") ?? "").toLowerCase();
  const where = shownUrl(url);
  if (type.includes("ndjson") && response.body !== null) {
    const unusable = (why: string): ProviderError =>
      new ProviderError("failed", "ollama", `Ollama at ${where} sent ${why}`);
    const { status, statusText, headers } = response;
    return new Response(ndjsonChecked(response.body, unusable), { status, statusText, headers });
  }
  if (type.includes("json")) return response;
  await response.body?.cancel();
  throw new ProviderError(
    "failed",
    "ollama",
    response.ok
      ? `Ollama at ${where} answered with something other than JSON: is another service listening there?`
      : `Ollama at ${where} answered ${response.status}`,
  );
}

/**
 * A client whose every request goes through egress under `signal`. `onBody` sees each request body
 * as it is handed to the egress door: before the door's check, so a refused call reports too.
 */
function clientFor(
  settings: OllamaProviderOptions,
  signal: AbortSignal,
  onBody: (body: string) => void = () => undefined,
): Ollama {
  const viaEgress: Fetch = async (input, init) => {
    // The client always passes the URL as a string; a Request would carry its own init.
    const url = input instanceof Request ? input.url : input;
    if (typeof init?.body === "string") onBody(init.body);
    const joined = init?.signal ? AbortSignal.any([init.signal, signal]) : signal;
    let response: Response;
    try {
      response = await settings.egress.fetch(OLLAMA_EGRESS_PURPOSE, url, { ...init, signal: joined });
    } catch (error) {
      throw connectFailure(error, settings.url, signal);
    }
    return onlyJson(response, settings.url);
  };
  return new Ollama({ host: settings.url, fetch: viaEgress });
}

const count = (value: unknown): number | null =>
  typeof value === "number" && Number.isSafeInteger(value) && value >= 0 ? value : null;

/** Ollama reports its counters on the done line only, and leaves out those that are zero. */
function usageOf(done: ChatResponse): ChatUsage {
  return { promptTokens: count(done.prompt_eval_count), outputTokens: count(done.eval_count) };
}

function textOf(part: ChatResponse): string {
  const content = (part as { message?: { content?: unknown } }).message?.content;
  return typeof content === "string" ? content : "";
}

async function* streamChat(
  settings: OllamaProviderOptions,
  request: ChatRequest,
  options: ChatOptions,
): AsyncGenerator<ChatPart> {
  let reported = false;
  const client = clientFor(settings, options.signal, (body) => {
    if (reported) return;
    reported = true;
    options.sent(body);
  });
  let stream: AbortableAsyncIterator<ChatResponse> | undefined;
  try {
    stream = await client.chat({
      model: request.model,
      messages: request.messages.map((m) => ({ role: m.role, content: m.content })),
      stream: true,
      ...(request.format === undefined ? {} : { format: { ...request.format } }),
      ...(request.maxOutputTokens === undefined ? {} : { options: { num_predict: request.maxOutputTokens } }),
    });
    for await (const part of stream) {
      const text = textOf(part);
      if (text !== "") yield { kind: "text", text };
      if (part.done) yield { kind: "usage", usage: usageOf(part) };
    }
  } catch (error) {
    throw ollamaFailure(error, settings.url, options.signal);
  } finally {
    stream?.abort();
  }
}

const TagsSchema = z.object({
  models: z.array(
    z.object({
      name: z.string().min(1),
      size: z.number().int().nonnegative().optional(),
      modified_at: z.string().optional(),
      details: z.object({ family: z.string().optional(), parameter_size: z.string().optional() }).nullish(),
    }),
  ),
});

const VersionSchema = z.object({ version: z.string().min(1) });

function unreadable(url: string, what: string): ProviderError {
  return new ProviderError("failed", "ollama", `Ollama at ${shownUrl(url)} sent ${what} this appliance cannot read`);
}

export function ollamaProvider(settings: OllamaProviderOptions): OllamaProvider {
  /** A one-request call: the same egress path, signal and failure mapping as chat. */
  async function call<T>(signal: AbortSignal, run: (client: Ollama) => Promise<T>): Promise<T> {
    try {
      return await run(clientFor(settings, signal));
    } catch (error) {
      throw ollamaFailure(error, settings.url, signal);
    }
  }

  return {
    id: "ollama",
    url: shownUrl(settings.url),
    chat: (request, options) => streamChat(settings, request, options),
    listModels: (signal) =>
      call(signal, async (client) => {
        const parsed = TagsSchema.safeParse(await client.list());
        if (!parsed.success) throw unreadable(settings.url, "a model list");
        return parsed.data.models.map((m): ModelInfo => ({
          name: m.name,
          sizeBytes: m.size ?? null,
          modifiedAt: m.modified_at ?? null,
          family: m.details?.family || null,
          parameterSize: m.details?.parameter_size || null,
        }));
      }),
    version: (signal) =>
      call(signal, async (client) => {
        const parsed = VersionSchema.safeParse(await client.version());
        if (!parsed.success) throw unreadable(settings.url, "a version");
        return parsed.data.version;
      }),
  };
}
