/**
 * The OpenAI, Anthropic and Google adapters against test servers that speak each provider's SSE and
 * error bodies (test/fixtures/llm-providers): text and usage stream through, the body reported as
 * sent is the body received, the key travels only in the provider's auth header and never reaches a
 * URL, an error message or a log line, and every failure is the ProviderError the routes map.
 */
import { Writable } from "node:stream";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { anthropicProvider } from "../../../src/ai/providers/anthropic.js";
import type { ExternalProviderOptions } from "../../../src/ai/providers/external-call.js";
import { googleProvider } from "../../../src/ai/providers/google.js";
import { openAiProvider } from "../../../src/ai/providers/openai.js";
import {
  ProviderError,
  type ChatPart,
  type ChatProvider,
  type ChatRequest,
  type ProviderFailure,
} from "../../../src/ai/providers/provider.js";
import { createEgress, type Egress } from "../../../src/egress.js";
import { createLogger } from "../../../src/log.js";
import { startProviderServer, type ProviderServer, type RecordedRequest } from "../../fixtures/llm-providers/server.js";
import { freePort } from "../../helpers.js";

const KEY = "sk-test-Zq8vR2mN4kL7pX1wY6tB3cD9";

interface Case {
  readonly id: "openai" | "anthropic" | "google";
  readonly make: (options: ExternalProviderOptions) => ChatProvider;
  readonly purpose: string;
  /** The key exactly where the provider wants it, and in no other header. */
  readonly auth: (headers: RecordedRequest["headers"]) => void;
  /** A finish reason by which the provider withholds the answer. */
  readonly withheld: string;
}

const CASES: Case[] = [
  {
    id: "openai",
    make: openAiProvider,
    purpose: "ai.openai",
    auth: (h) => expect(h.authorization).toBe(`Bearer ${KEY}`),
    withheld: "content_filter",
  },
  {
    id: "anthropic",
    make: anthropicProvider,
    purpose: "ai.anthropic",
    auth: (h) => {
      expect(h["x-api-key"]).toBe(KEY);
      expect(h["anthropic-version"]).toBe("2023-06-01");
    },
    withheld: "refusal",
  },
  {
    id: "google",
    make: googleProvider,
    purpose: "ai.google",
    auth: (h) => expect(h["x-goog-api-key"]).toBe(KEY),
    withheld: "SAFETY",
  },
];

const REQUEST: ChatRequest = {
  model: "test-model-1",
  messages: [
    { role: "system", content: "Summarise the data section." },
    { role: "user", content: "<tenant_data>Ideas and reviews</tenant_data>" },
  ],
};

/** Every log line the egress wrote, to search for the key. */
const logLines: string[] = [];
const logSink = new Writable({
  write(chunk: Buffer, _encoding, done) {
    logLines.push(chunk.toString("utf8"));
    done();
  },
});

async function collect(parts: AsyncIterable<ChatPart>): Promise<ChatPart[]> {
  const seen: ChatPart[] = [];
  for await (const part of parts) seen.push(part);
  return seen;
}

/** The parts yielded before the stream failed, and the failure. */
async function collectUntilFailure(parts: AsyncIterable<ChatPart>): Promise<{ seen: ChatPart[]; error: unknown }> {
  const seen: ChatPart[] = [];
  try {
    for await (const part of parts) seen.push(part);
  } catch (error) {
    return { seen, error };
  }
  throw new Error(`the stream did not fail; it gave ${JSON.stringify(seen)}`);
}

function expectFailure(error: unknown, failure: ProviderFailure, provider: string): ProviderError {
  expect(error).toBeInstanceOf(ProviderError);
  const providerError = error as ProviderError;
  expect({ failure: providerError.failure, provider: providerError.provider }).toEqual({ failure, provider });
  expect(providerError.message).not.toContain(KEY);
  return providerError;
}

const text = (parts: readonly ChatPart[]): string =>
  parts.map((part) => (part.kind === "text" ? part.text : "")).join("");

describe.each(CASES)("$id adapter", (c) => {
  let server: ProviderServer;
  let egress: Egress;
  let provider: ChatProvider;
  let sent: string[];
  const chat = (request: ChatRequest = REQUEST, signal: AbortSignal = new AbortController().signal) =>
    provider.chat(request, { signal, sent: (body) => sent.push(body) });

  beforeAll(async () => {
    server = await startProviderServer(c.id);
    egress = createEgress({ allow: [] }, createLogger("trace", logSink));
    provider = c.make({ egress, apiKey: KEY, baseUrl: server.baseUrl });
  });
  afterAll(() => server.close());
  beforeEach(() => {
    server.reset();
    sent = [];
  });

  it("streams the answer's text, then the usage once at the end", async () => {
    const parts = await collect(chat());
    expect(text(parts)).toBe("Hello, world ✓");
    expect(parts.filter((p) => p.kind === "text").length).toBe(3);
    expect(parts.at(-1)).toEqual({ kind: "usage", usage: { promptTokens: 21, outputTokens: 7 } });
    expect(parts.filter((p) => p.kind === "usage").length).toBe(1);
  });

  it("streams across slow chunks", async () => {
    server.script.chunkDelayMs = 15;
    server.script.chunks = ["a", "b", "c", "d"];
    const parts = await collect(chat());
    expect(text(parts)).toBe("abcd");
  });

  it("reports null token counts when the provider reports none", async () => {
    server.script.usage = null;
    const parts = await collect(chat());
    expect(parts.at(-1)).toEqual({ kind: "usage", usage: { promptTokens: null, outputTokens: null } });
  });

  it("reports exactly the body the provider received, once, before the answer", async () => {
    await collect(chat());
    expect(server.requests).toHaveLength(1);
    expect(sent).toEqual([server.requests[0]?.body]);
    expect(server.requests[0]?.method).toBe("POST");
    expect(server.requests[0]?.headers["content-type"]).toBe("application/json");
  });

  it("carries the key only in the provider's auth header: not in the URL, nor in any other header", async () => {
    await collect(chat());
    const received = server.requests[0] as RecordedRequest;
    c.auth(received.headers);
    expect(received.url).not.toContain(KEY);
    expect(received.url).not.toMatch(/[?&]key=/);
    const carrying = Object.entries(received.headers).filter(([, value]) => String(value).includes(KEY));
    expect(carrying.map(([name]) => name)).toHaveLength(1);
    expect(received.body).not.toContain(KEY);
  });

  it.each([
    [401, "Incorrect API key provided"],
    [429, "Rate limit reached for requests"],
    [500, "The server had an error while processing your request"],
    [529, "Overloaded"],
  ])("an HTTP %i is a failure carrying the provider's message", async (status, message) => {
    server.script.status = status;
    server.script.errorMessage = message;
    const { seen, error } = await collectUntilFailure(chat());
    expect(seen).toEqual([]);
    const failure = expectFailure(error, "failed", c.id);
    expect(failure.message).toContain(String(status));
    expect(failure.message).toContain(message);
  });

  it("cuts the key out of an error message that echoes it", async () => {
    server.script.status = 401;
    server.script.errorMessage = `Incorrect API key provided: ${KEY}.`;
    const { error } = await collectUntilFailure(chat());
    expect(expectFailure(error, "failed", c.id).message).toContain("Incorrect API key provided: [redacted]");
  });

  it("an error event after the 200 is a failure carrying the provider's message, after the text so far", async () => {
    server.script.errorMidStream = true;
    server.script.errorMessage = "Overloaded mid-stream";
    const { seen, error } = await collectUntilFailure(chat());
    expect(text(seen)).toBe("Hello");
    expect(seen.some((p) => p.kind === "usage")).toBe(false);
    expect(expectFailure(error, "failed", c.id).message).toContain("Overloaded mid-stream");
  });

  it("a stream that ends without its end marker is a failure, with no usage", async () => {
    server.script.omitEnd = true;
    const { seen, error } = await collectUntilFailure(chat());
    expect(text(seen)).toBe("Hello, world ✓");
    expect(seen.some((p) => p.kind === "usage")).toBe(false);
    expectFailure(error, "failed", c.id);
  });

  it("an answer the provider withheld is a failure", async () => {
    server.script.finish = c.withheld;
    const { error } = await collectUntilFailure(chat());
    expectFailure(error, "failed", c.id);
  });

  it("a timeout before the headers is a timeout, and the connection is closed", async () => {
    server.script.stall = "before-headers";
    const disconnected = server.nextDisconnect();
    const { error } = await collectUntilFailure(chat(REQUEST, AbortSignal.timeout(300)));
    expectFailure(error, "timeout", c.id);
    await disconnected;
  });

  it("a timeout mid-stream is a timeout, after the text so far, and the connection is closed", async () => {
    server.script.stall = "after-first-text";
    const disconnected = server.nextDisconnect();
    const { seen, error } = await collectUntilFailure(chat(REQUEST, AbortSignal.timeout(300)));
    expect(text(seen)).toBe("Hello");
    expectFailure(error, "timeout", c.id);
    await disconnected;
  });

  it("the caller's abort mid-stream rethrows its reason and closes the connection", async () => {
    server.script.stall = "after-first-text";
    const controller = new AbortController();
    const reason = new Error("the client went away");
    const disconnected = server.nextDisconnect();
    const seen: ChatPart[] = [];
    const iterate = async (): Promise<void> => {
      for await (const part of chat(REQUEST, controller.signal)) {
        seen.push(part);
        controller.abort(reason);
      }
    };
    await expect(iterate()).rejects.toBe(reason);
    expect(text(seen)).toBe("Hello");
    await disconnected;
  });

  it("a consumer that stops reading closes the connection", async () => {
    server.script.stall = "after-first-text";
    const disconnected = server.nextDisconnect();
    for await (const part of chat()) {
      expect(part).toEqual({ kind: "text", text: "Hello" });
      break;
    }
    await disconnected;
  });

  it("nothing listening is unreachable, naming the address and not the key", async () => {
    const port = await freePort();
    const closed = c.make({ egress, apiKey: KEY, baseUrl: `http://127.0.0.1:${port}` });
    const { error } = await collectUntilFailure(
      closed.chat(REQUEST, { signal: new AbortController().signal, sent: () => {} }),
    );
    expect(expectFailure(error, "unreachable", c.id).message).toContain(`127.0.0.1:${port}`);
  });

  it("the provider's own host off the egress allow-list is refused before any request leaves", async () => {
    const networkFetch = vi.spyOn(globalThis, "fetch");
    try {
      const real = c.make({ egress: createEgress({ allow: [] }), apiKey: KEY });
      const { error } = await collectUntilFailure(
        real.chat(REQUEST, { signal: new AbortController().signal, sent: () => {} }),
      );
      expect(expectFailure(error, "refused", c.id).message).toContain("allow-list");
      expect(networkFetch).not.toHaveBeenCalled();
    } finally {
      networkFetch.mockRestore();
    }
  });

  it("a key that is not a valid header value fails before anything is sent, without being quoted", async () => {
    const broken = `${KEY}\nx-injected: 1`;
    const bad = c.make({ egress, apiKey: broken, baseUrl: server.baseUrl });
    const reported: string[] = [];
    const { error } = await collectUntilFailure(
      bad.chat(REQUEST, { signal: new AbortController().signal, sent: (body) => reported.push(body) }),
    );
    expect(expectFailure(error, "failed", c.id).message).toContain("not a valid header value");
    expect(reported).toEqual([]);
    expect(server.requests).toEqual([]);
  });

  it("names its purpose in the egress log and never writes the key there", () => {
    expect(logLines.some((line) => line.includes(c.purpose))).toBe(true);
    expect(logLines.filter((line) => line.includes(KEY))).toEqual([]);
  });
});

describe("request bodies, as each provider expects them", () => {
  const servers = new Map<string, ProviderServer>();
  const SCHEMA = {
    type: "object",
    properties: { summary: { type: "string" } },
    required: ["summary"],
    additionalProperties: false,
  };
  const FULL: ChatRequest = {
    model: "models/test-model-1",
    messages: [
      { role: "system", content: "Instructions." },
      { role: "user", content: "Question?" },
      { role: "assistant", content: "Earlier answer." },
      { role: "user", content: "Follow-up?" },
    ],
    format: SCHEMA,
    maxOutputTokens: 256,
  };

  beforeAll(async () => {
    for (const c of CASES) servers.set(c.id, await startProviderServer(c.id));
  });
  afterAll(async () => {
    for (const server of servers.values()) await server.close();
  });

  /** What the provider's server received for this request. */
  async function received(c: Case, request: ChatRequest): Promise<{ url: string; body: Record<string, unknown> }> {
    const server = servers.get(c.id) as ProviderServer;
    server.reset();
    const provider = c.make({ egress: createEgress({ allow: [] }), apiKey: KEY, baseUrl: server.baseUrl });
    await collect(provider.chat(request, { signal: new AbortController().signal, sent: () => {} }));
    const only = server.requests[0] as RecordedRequest;
    return { url: only.url, body: JSON.parse(only.body) as Record<string, unknown> };
  }
  const byId = (id: Case["id"]): Case => CASES.find((c) => c.id === id) as Case;

  it("OpenAI: chat completions, streamed with usage, not stored, a strict JSON schema, max_completion_tokens", async () => {
    const { url, body } = await received(byId("openai"), FULL);
    expect(url).toBe("/v1/chat/completions");
    expect(body).toEqual({
      model: "models/test-model-1",
      messages: FULL.messages,
      stream: true,
      stream_options: { include_usage: true },
      store: false,
      max_completion_tokens: 256,
      response_format: { type: "json_schema", json_schema: { name: "answer", schema: SCHEMA, strict: true } },
    });
  });

  it("Anthropic: messages, the system prompt top-level, max_tokens always, output_config for the schema, never cache_control", async () => {
    const { url, body } = await received(byId("anthropic"), FULL);
    expect(url).toBe("/v1/messages");
    expect(body).toEqual({
      model: "models/test-model-1",
      max_tokens: 256,
      system: "Instructions.",
      messages: FULL.messages.slice(1),
      stream: true,
      output_config: { format: { type: "json_schema", schema: SCHEMA } },
    });
    const plain = await received(byId("anthropic"), REQUEST);
    expect(plain.body.max_tokens).toBe(4096);
    expect(JSON.stringify(plain.body)).not.toContain("cache_control");
    expect(JSON.stringify(body)).not.toContain("cache_control");
  });

  it("Google: streamGenerateContent with alt=sse, systemInstruction, role model, a JSON schema answer", async () => {
    const { url, body } = await received(byId("google"), FULL);
    expect(url).toBe("/v1beta/models/test-model-1:streamGenerateContent?alt=sse");
    expect(body).toEqual({
      contents: [
        { role: "user", parts: [{ text: "Question?" }] },
        { role: "model", parts: [{ text: "Earlier answer." }] },
        { role: "user", parts: [{ text: "Follow-up?" }] },
      ],
      systemInstruction: { parts: [{ text: "Instructions." }] },
      generationConfig: { maxOutputTokens: 256, responseMimeType: "application/json", responseJsonSchema: SCHEMA },
    });
  });

  it("Google: a model name cannot leave its path segment", async () => {
    const { url } = await received(byId("google"), { ...REQUEST, model: "../../files/x?alt=json#" });
    expect(url).toBe("/v1beta/models/..%2F..%2Ffiles%2Fx%3Falt%3Djson%23:streamGenerateContent?alt=sse");
  });

  it("a base URL's path prefix (a gateway in front of the API) is kept", async () => {
    const server = servers.get("openai") as ProviderServer;
    server.reset();
    const provider = openAiProvider({
      egress: createEgress({ allow: [] }),
      apiKey: KEY,
      baseUrl: `${server.baseUrl}/gw/openai/`,
    });
    await collect(provider.chat(REQUEST, { signal: new AbortController().signal, sent: () => {} }));
    expect(server.requests[0]?.url).toBe("/gw/openai/v1/chat/completions");
  });
});
