/**
 * The Ollama test server speaks Ollama's API as the official `ollama` client expects it: these
 * tests drive the real client (and, where the client hides the wire, plain HTTP) against it, so
 * that the product's tests against the fixture mean something about a real Ollama.
 */
import { Ollama, type ChatResponse } from "ollama";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { startOllamaServer, type OllamaServer } from "../../fixtures/ollama-server.js";

let ollama: OllamaServer;
let client: Ollama;

beforeAll(async () => {
  ollama = await startOllamaServer();
  client = new Ollama({ host: ollama.url });
});
afterEach(() => ollama.reset());
afterAll(() => ollama.close());

const messages = [{ role: "user", content: "Why is the sky blue?" }];

/** Reads a streamed answer to the end, or until it throws; returns what came and what was thrown. */
async function drain(stream: AsyncIterable<ChatResponse>): Promise<{ parts: ChatResponse[]; error: unknown }> {
  const parts: ChatResponse[] = [];
  try {
    for await (const part of stream) parts.push(part);
    return { parts, error: undefined };
  } catch (error) {
    return { parts, error };
  }
}

async function raw(path: string, body: string): Promise<{ status: number; type: string | null; text: string }> {
  const res = await fetch(`${ollama.url}${path}`, {
    method: "POST",
    body,
    headers: { "content-type": "application/json" },
  });
  return { status: res.status, type: res.headers.get("content-type"), text: await res.text() };
}

describe("Ollama test server: chat and generate", () => {
  it("streams a chat answer in chunks, and the last line says done with the counters", async () => {
    ollama.script({ reply: "Rayleigh scattering of short wavelengths." });
    const stream = await client.chat({ model: "llama3.2", messages, stream: true });
    const { parts, error } = await drain(stream);
    expect(error).toBeUndefined();
    const final = parts.at(-1) as ChatResponse;
    expect(parts.slice(0, -1).every((p) => !p.done)).toBe(true);
    expect(parts.length).toBeGreaterThan(2);
    expect(parts.map((p) => p.message.content).join("")).toBe("Rayleigh scattering of short wavelengths.");
    expect(final).toMatchObject({ done: true, done_reason: "stop", model: "llama3.2", prompt_eval_count: 5 });
    expect(final.eval_count).toBe(parts.length - 1);
    for (const counter of ["total_duration", "load_duration", "prompt_eval_duration", "eval_duration"] as const) {
      expect(final[counter]).toBeGreaterThan(0);
    }
    expect(ollama.requestsTo("/api/chat")[0]?.body).toEqual({ model: "llama3.2", messages, stream: true });
  });

  it("streams NDJSON by default, one object a line, when the body does not mention stream", async () => {
    ollama.script({ reply: ["a ", "b"], usage: { promptEvalCount: 7, evalCount: 2 } });
    const res = await raw("/api/chat", JSON.stringify({ model: "llama3.2", messages }));
    expect(res.status).toBe(200);
    expect(res.type).toBe("application/x-ndjson");
    expect(res.text.endsWith("\n")).toBe(true);
    const lines = res.text
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l.message)).toEqual([
      { role: "assistant", content: "a " },
      { role: "assistant", content: "b" },
      { role: "assistant", content: "" },
    ]);
    expect(lines[2]).toMatchObject({ done: true, prompt_eval_count: 7, eval_count: 2 });
  });

  it("answers stream:false with one JSON object holding the whole answer", async () => {
    const res = await raw("/api/chat", JSON.stringify({ model: "llama3.2", messages, stream: false }));
    expect(res.type).toMatch(/^application\/json/);
    const whole = JSON.parse(res.text) as Record<string, unknown>;
    expect(whole).toMatchObject({
      message: { role: "assistant", content: "The sky is blue because of Rayleigh scattering." },
      done: true,
      done_reason: "stop",
    });
    const viaClient = await client.chat({ model: "llama3.2:latest", messages, stream: false });
    expect(viaClient.message.content).toBe("The sky is blue because of Rayleigh scattering.");
    expect(viaClient.eval_count).toBeGreaterThan(0);
  });

  it("generates, streamed and whole, with `response` text and a context on the last line", async () => {
    ollama.script({ reply: "Once upon a time" });
    const { parts } = await drain(
      (await client.generate({ model: "llama3.2", prompt: "Tell a story", stream: true })) as AsyncIterable<never>,
    );
    const generated = parts as unknown as { response: string; done: boolean; context?: number[] }[];
    expect(generated.map((p) => p.response).join("")).toBe("Once upon a time");
    expect(generated.at(-1)).toMatchObject({ done: true, done_reason: "stop", prompt_eval_count: 3 });
    expect(generated.at(-1)?.context?.length).toBeGreaterThan(0);
    const whole = await client.generate({ model: "llama3.2", prompt: "Tell a story", stream: false });
    expect(whole.response).toBe("Once upon a time");
  });

  it("hands the request (format included) to a scripted reply function", async () => {
    const schema = { type: "object", properties: { title: { type: "string" } }, required: ["title"] };
    ollama.script({ reply: (req) => JSON.stringify({ title: `${req.endpoint}:${JSON.stringify(req.body.format)}` }) });
    const answer = await client.chat({ model: "llama3.2", messages, format: schema, stream: false });
    expect(JSON.parse(answer.message.content)).toEqual({ title: `chat:${JSON.stringify(schema)}` });
    expect((ollama.requestsTo("/api/chat")[0]?.body as { format: unknown }).format).toEqual(schema);
  });

  it("answers with tool calls when the request offers tools, and with text when it does not", async () => {
    const tools = [
      {
        type: "function",
        function: {
          name: "get_weather",
          description: "Weather for a city",
          parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
        },
      },
    ];
    ollama.script({ reply: { toolCalls: [{ name: "get_weather", arguments: { city: "Tokyo" } }], text: "plain" } });
    const { parts } = await drain(await client.chat({ model: "llama3.2", messages, tools, stream: true }));
    const calls = parts[0]?.message.tool_calls as unknown as { id: string; function: unknown }[];
    expect(calls).toHaveLength(1);
    expect(calls[0]?.id).toMatch(/^call_[a-z0-9]{8}$/);
    expect(calls[0]?.function).toEqual({ index: 0, name: "get_weather", arguments: { city: "Tokyo" } });
    expect(parts.at(-1)?.done).toBe(true);
    const whole = await client.chat({ model: "llama3.2", messages, tools, stream: false });
    expect(whole.message.tool_calls?.[0]?.function.name).toBe("get_weather");
    const without = await client.chat({ model: "llama3.2", messages, stream: false });
    expect(without.message).toEqual({ role: "assistant", content: "plain" });
  });

  it("only loads the model for a chat without messages, as Ollama does", async () => {
    const loaded = await client.chat({ model: "llama3.2", messages: [], stream: false });
    expect(loaded).toMatchObject({ done: true, done_reason: "load", message: { content: "" } });
    expect(loaded.eval_count).toBeUndefined();
  });
});

describe("Ollama test server: models, version, embeddings", () => {
  it("lists the models in Ollama's shape and answers its version", async () => {
    ollama.script({
      models: [
        {
          name: "qwen3:8b",
          family: "qwen3",
          parameterSize: "8.2B",
          quantizationLevel: "Q4_K_M",
          sizeBytes: 5_225_376_047,
          modifiedAt: "2025-06-01T10:00:00Z",
        },
      ],
      version: "0.9.0",
    });
    const list = await client.list();
    expect(list.models).toHaveLength(1);
    expect(list.models[0]).toMatchObject({
      name: "qwen3:8b",
      model: "qwen3:8b",
      size: 5_225_376_047,
      modified_at: "2025-06-01T10:00:00Z",
      details: { family: "qwen3", families: ["qwen3"], parameter_size: "8.2B", format: "gguf" },
    });
    expect(list.models[0]?.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(await client.version()).toEqual({ version: "0.9.0" });
    await expect(client.chat({ model: "llama3.2", messages })).rejects.toMatchObject({ status_code: 404 });
  });

  it("embeds each input as a unit vector, equal texts equally", async () => {
    ollama.script({ embeddingDimensions: 16 });
    const res = await client.embed({ model: "nomic-embed-text", input: ["alpha", "beta", "alpha"] });
    expect(res.embeddings).toHaveLength(3);
    expect(res.embeddings[0]).toHaveLength(16);
    expect(res.embeddings[0]).toEqual(res.embeddings[2]);
    expect(res.embeddings[0]).not.toEqual(res.embeddings[1]);
    expect(Math.hypot(...(res.embeddings[1] as number[]))).toBeCloseTo(1, 10);
    expect(res.prompt_eval_count).toBe(3);
    expect((await client.embed({ model: "nomic-embed-text", input: "one" })).embeddings).toHaveLength(1);
  });
});

describe("Ollama test server: errors as Ollama sends them", () => {
  it("answers 404 model 'x' not found for an unknown model, on chat, generate and embed", async () => {
    for (const call of [
      () => client.chat({ model: "nope", messages, stream: true }),
      () => client.chat({ model: "nope", messages, stream: false }),
      () => client.generate({ model: "nope", prompt: "hi" }),
      () => client.embed({ model: "nope", input: "hi" }),
    ]) {
      await expect(call()).rejects.toMatchObject({
        name: "ResponseError",
        status_code: 404,
        error: "model 'nope' not found",
      });
    }
    const res = await raw("/api/chat", JSON.stringify({ model: "nope", messages }));
    expect(res).toEqual({
      status: 404,
      type: expect.stringMatching(/^application\/json/),
      text: '{"error":"model \'nope\' not found"}',
    });
  });

  it("answers 400 with a JSON error for a missing, malformed or model-less body", async () => {
    expect(await raw("/api/chat", "")).toMatchObject({ status: 400, text: '{"error":"missing request body"}' });
    const malformed = await raw("/api/generate", "{not json");
    expect(malformed.status).toBe(400);
    expect(JSON.parse(malformed.text)).toHaveProperty("error");
    expect(await raw("/api/chat", JSON.stringify({ messages }))).toMatchObject({
      status: 400,
      text: '{"error":"model is required"}',
    });
    expect(await raw("/api/embed", JSON.stringify({ model: "nomic-embed-text", input: [1] }))).toMatchObject({
      status: 400,
      text: '{"error":"invalid input type"}',
    });
  });

  it("fails before the first byte with the scripted status and Ollama's error body", async () => {
    ollama.script({ failure: { kind: "http", status: 500, error: "llama runner process has terminated" } });
    await expect(client.chat({ model: "llama3.2", messages, stream: true })).rejects.toMatchObject({
      name: "ResponseError",
      status_code: 500,
      error: "llama runner process has terminated",
    });
  });

  it("sends an error line mid-stream after N chunks, status 200, and the client throws its text", async () => {
    ollama.script({
      reply: ["one ", "two ", "three ", "four"],
      failure: { kind: "error-line", afterChunks: 2, error: "an error was encountered while running the model" },
    });
    const { parts, error } = await drain(await client.chat({ model: "llama3.2", messages, stream: true }));
    expect(parts.map((p) => p.message.content)).toEqual(["one ", "two "]);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toBe("an error was encountered while running the model");
    const res = await raw("/api/chat", JSON.stringify({ model: "llama3.2", messages }));
    expect(res.status).toBe(200);
    expect(res.text.trimEnd().split("\n").at(-1)).toBe('{"error":"an error was encountered while running the model"}');
  });

  it("rejects an unusable format as Ollama's runner does", async () => {
    await expect(client.chat({ model: "llama3.2", messages, format: "xml" })).rejects.toMatchObject({
      status_code: 500,
      error: 'invalid format: "\\"xml\\""; expected "json" or a valid JSON Schema object',
    });
  });

  it("can end a stream without a done line, and the client says so", async () => {
    ollama.script({ reply: ["one ", "two"], failure: { kind: "no-done", afterChunks: 2 } });
    const { parts, error } = await drain(await client.chat({ model: "llama3.2", messages, stream: true }));
    expect(parts).toHaveLength(2);
    expect((error as Error).message).toBe("Did not receive done or success response in stream.");
  });

  it("can send a line that is not JSON mid-stream, which the client skips", async () => {
    ollama.script({ reply: ["one ", "two"], failure: { kind: "bad-line", afterChunks: 1, line: "<html>" } });
    const res = await raw("/api/chat", JSON.stringify({ model: "llama3.2", messages }));
    expect(res.text.split("\n")[1]).toBe("<html>");
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    try {
      const { parts, error } = await drain(await client.chat({ model: "llama3.2", messages, stream: true }));
      expect(error).toBeUndefined();
      expect(parts.map((p) => p.message.content)).toEqual(["one ", "two", ""]);
      expect(warn).toHaveBeenCalledWith("invalid json: ", "<html>");
    } finally {
      warn.mockRestore();
    }
  });

  it("can destroy the connection mid-stream", async () => {
    ollama.script({ reply: ["one ", "two ", "three"], failure: { kind: "destroy", afterChunks: 1 } });
    const { parts, error } = await drain(await client.chat({ model: "llama3.2", messages, stream: true }));
    expect(parts.map((p) => p.message.content)).toEqual(["one "]);
    expect(error).toBeInstanceOf(TypeError);
    expect(await ollama.requestsTo("/api/chat")[0]?.ended).toBe("destroyed");
  });
});

describe("Ollama test server: slow streams and clients that leave", () => {
  it("records a completed answer as completed", async () => {
    await drain(await client.chat({ model: "llama3.2", messages, stream: true }));
    const recorded = ollama.requestsTo("/api/chat")[0];
    expect(await recorded?.ended).toBe("completed");
    expect(recorded?.chunksSent).toBe(8);
  });

  it("sees the client abort a slow stream, and stops generating", async () => {
    ollama.script({ reply: ["one ", "two ", "three ", "four"], chunkDelayMs: 600_000 });
    const stream = await client.chat({ model: "llama3.2", messages, stream: true });
    const parts: string[] = [];
    const reading = (async () => {
      for await (const part of stream) {
        parts.push(part.message.content);
        stream.abort();
      }
    })();
    await expect(reading).rejects.toMatchObject({ name: "AbortError" });
    const recorded = ollama.requestsTo("/api/chat")[0];
    expect(await recorded?.ended).toBe("client-closed");
    expect(parts).toEqual(["one "]);
    expect(recorded?.chunksSent).toBe(1);
  });

  it("sees a client leave while it waits before the first byte", async () => {
    ollama.script({ firstByteDelayMs: 600_000 });
    const gone = new AbortController();
    const arrived = ollama.nextRequest("/api/chat");
    const call = fetch(`${ollama.url}/api/chat`, {
      method: "POST",
      body: JSON.stringify({ model: "llama3.2", messages }),
      signal: gone.signal,
    });
    const recorded = await arrived;
    gone.abort();
    await expect(call).rejects.toMatchObject({ name: "AbortError" });
    expect(await recorded.ended).toBe("client-closed");
    expect(recorded.chunksSent).toBe(0);
  });

  it("keeps a stalled stream open until the client leaves", async () => {
    ollama.script({ reply: ["one ", "two"], failure: { kind: "stall", afterChunks: 1 } });
    const stream = await client.chat({ model: "llama3.2", messages, stream: true });
    const iterator = stream[Symbol.asyncIterator]();
    expect((await iterator.next()).value).toMatchObject({ message: { content: "one " } });
    const recorded = ollama.requestsTo("/api/chat")[0];
    expect(recorded?.outcome).toBeNull();
    stream.abort();
    await expect(iterator.next()).rejects.toMatchObject({ name: "AbortError" });
    expect(await recorded?.ended).toBe("client-closed");
  });
});
