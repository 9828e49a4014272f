/**
 * The Ollama provider against the Ollama test server, through a real egress guard: what it streams,
 * what it reports as sent, how each failure reaches the caller (unreachable / timeout / failed /
 * refused, or the caller's own abort), and that a call that ends early closes its connection.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { MAX_NDJSON_LINE_CHARS } from "../../../src/ai/providers/ndjson-guard.js";
import { ollamaProvider, type OllamaProvider } from "../../../src/ai/providers/ollama.js";
import { ProviderError, type ChatPart, type ChatRequest } from "../../../src/ai/providers/provider.js";
import { createEgress, type Egress } from "../../../src/egress.js";
import { startOllamaServer, type OllamaServer } from "../../fixtures/ollama-server.js";
import { freePort } from "../../helpers.js";

let ollama: OllamaServer;
/** Every request the provider hands to the egress door, by purpose. */
const egressCalls: { purpose: string; url: string }[] = [];

function recordingEgress(allow: readonly string[] = []): Egress {
  const egress = createEgress({ allow });
  return {
    fetch(purpose, url, init) {
      egressCalls.push({ purpose, url: String(url) });
      return egress.fetch(purpose, url, init);
    },
  };
}

function provider(url = ollama.url, allow: readonly string[] = []): OllamaProvider {
  return ollamaProvider({ url, egress: recordingEgress(allow) });
}

beforeAll(async () => {
  ollama = await startOllamaServer();
});
afterEach(() => {
  ollama.reset();
  egressCalls.length = 0;
});
afterAll(() => ollama.close());

const request: ChatRequest = {
  model: "llama3.2",
  messages: [
    { role: "system", content: "Summarise the data section." },
    { role: "user", content: "<data>A node about caching.</data>" },
  ],
};

const noop = (): void => undefined;

async function collect(parts: AsyncIterable<ChatPart>): Promise<{ text: string; parts: ChatPart[]; error: unknown }> {
  const seen: ChatPart[] = [];
  try {
    for await (const part of parts) seen.push(part);
    return { text: textOf(seen), parts: seen, error: undefined };
  } catch (error) {
    return { text: textOf(seen), parts: seen, error };
  }
}

const textOf = (parts: readonly ChatPart[]): string => parts.map((p) => (p.kind === "text" ? p.text : "")).join("");

function expectFailure(error: unknown, failure: ProviderError["failure"], message: string | RegExp): void {
  expect(error).toBeInstanceOf(ProviderError);
  const e = error as ProviderError;
  expect(e.failure).toBe(failure);
  expect(e.provider).toBe("ollama");
  expect(e.message).toMatch(message);
  expect(e.message).not.toMatch(/\n|\bat .*\.(js|ts):\d+/);
}

describe("Ollama provider: answers", () => {
  it("streams the text as it comes, then the usage from the done line, all through egress", async () => {
    ollama.script({ reply: ["Caching ", "keeps ", "reads ", "cheap."], usage: { promptEvalCount: 41, evalCount: 4 } });
    const { parts, text, error } = await collect(
      provider().chat(request, { signal: AbortSignal.timeout(30_000), sent: noop }),
    );
    expect(error).toBeUndefined();
    expect(parts.filter((p) => p.kind === "text")).toHaveLength(4);
    expect(text).toBe("Caching keeps reads cheap.");
    expect(parts.at(-1)).toEqual({ kind: "usage", usage: { promptTokens: 41, outputTokens: 4 } });
    expect(parts.filter((p) => p.kind === "usage")).toHaveLength(1);
    expect(egressCalls).toEqual([{ purpose: "ai.ollama", url: `${ollama.url}/api/chat` }]);
    expect(await ollama.requestsTo("/api/chat")[0]?.ended).toBe("completed");
  });

  it("reports the request body byte for byte as Ollama received it, once, before the answer", async () => {
    const schema = { type: "object", properties: { edges: { type: "array" } }, required: ["edges"] };
    const sent: string[] = [];
    const seenBeforeFirstPart: number[] = [];
    for await (const part of provider().chat(
      { ...request, format: schema, maxOutputTokens: 256 },
      { signal: AbortSignal.timeout(30_000), sent: (body) => sent.push(body) },
    )) {
      if (seenBeforeFirstPart.length === 0) seenBeforeFirstPart.push(sent.length);
      expect(part.kind).toMatch(/text|usage/);
    }
    expect(sent).toHaveLength(1);
    expect(seenBeforeFirstPart).toEqual([1]);
    const received = ollama.requestsTo("/api/chat")[0];
    expect(sent[0]).toBe(received?.rawBody);
    expect(received?.body).toEqual({
      model: "llama3.2",
      messages: request.messages,
      stream: true,
      format: schema,
      options: { num_predict: 256 },
    });
  });

  it("lists the models Ollama has, and its version, through egress", async () => {
    const p = provider();
    const models = await p.listModels(AbortSignal.timeout(30_000));
    expect(models).toEqual([
      {
        name: "llama3.2:latest",
        sizeBytes: 2_019_393_189,
        modifiedAt: "2025-05-04T17:37:44.706015396-07:00",
        family: "llama",
        parameterSize: "3.2B",
      },
      {
        name: "nomic-embed-text:latest",
        sizeBytes: 274_302_450,
        modifiedAt: "2025-04-11T09:12:03.118201547Z",
        family: "nomic-bert",
        parameterSize: "137M",
      },
    ]);
    ollama.script({ version: "0.12.9" });
    expect(await p.version(AbortSignal.timeout(30_000))).toBe("0.12.9");
    expect(egressCalls.map((c) => c.url)).toEqual([`${ollama.url}/api/tags`, `${ollama.url}/api/version`]);
    expect(egressCalls.every((c) => c.purpose === "ai.ollama")).toBe(true);
  });
});

describe("Ollama provider: failures", () => {
  it("an unknown model fails with Ollama's message", async () => {
    const { error, parts } = await collect(
      provider().chat({ ...request, model: "mistral" }, { signal: AbortSignal.timeout(30_000), sent: noop }),
    );
    expect(parts).toEqual([]);
    expectFailure(error, "failed", `Ollama at ${ollama.url} answered 404: model 'mistral' not found`);
  });

  it("an error status before the first byte fails with Ollama's text, as one bounded line", async () => {
    const hostile = `runner died\r\n\tsecond line\u001b[2J${"x".repeat(5000)}`;
    ollama.script({ failure: { kind: "http", status: 500, error: hostile } });
    const { error } = await collect(provider().chat(request, { signal: AbortSignal.timeout(30_000), sent: noop }));
    expectFailure(error, "failed", /^Ollama at \S+ answered 500: runner died second line \[2Jx{100}/);
    expect((error as Error).message.length).toBeLessThan(400);
    expect((error as Error).message).not.toMatch(/\p{Cc}/u);
  });

  it("an error line mid-stream fails after the text that came, with Ollama's text", async () => {
    ollama.script({
      reply: ["one ", "two ", "three"],
      failure: { kind: "error-line", afterChunks: 2, error: "an error was encountered while running the model" },
    });
    const { error, text, parts } = await collect(
      provider().chat(request, { signal: AbortSignal.timeout(30_000), sent: noop }),
    );
    expect(text).toBe("one two ");
    expect(parts.some((p) => p.kind === "usage")).toBe(false);
    expectFailure(error, "failed", `Ollama at ${ollama.url} failed: an error was encountered while running the model`);
  });

  it("a stream that ends without its done line fails", async () => {
    ollama.script({ reply: ["one ", "two"], failure: { kind: "no-done", afterChunks: 2 } });
    const { error } = await collect(provider().chat(request, { signal: AbortSignal.timeout(30_000), sent: noop }));
    expectFailure(error, "failed", /failed: Did not receive done/);
  });

  it("a connection Ollama breaks off mid-stream fails", async () => {
    ollama.script({ reply: ["one ", "two"], failure: { kind: "destroy", afterChunks: 1 } });
    const { error, text } = await collect(
      provider().chat(request, { signal: AbortSignal.timeout(30_000), sent: noop }),
    );
    expect(text).toBe("one ");
    expectFailure(error, "failed", `Ollama at ${ollama.url} closed the connection before the answer was complete`);
  });

  it("a streamed line that is not JSON fails the call, and nothing reaches the console", async () => {
    ollama.script({
      reply: ["one ", "two"],
      failure: { kind: "bad-line", afterChunks: 1, line: "\u001b[2Jnot json" },
    });
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    try {
      const { error, text } = await collect(
        provider().chat(request, { signal: AbortSignal.timeout(30_000), sent: noop }),
      );
      expect(text).toBe("one ");
      expectFailure(error, "failed", `Ollama at ${ollama.url} sent a line that is not JSON`);
      expect(warn).not.toHaveBeenCalled();
    } finally {
      warn.mockRestore();
    }
  });

  it("a streamed line longer than a bound fails the call", async () => {
    ollama.script({ reply: ["one ", "x".repeat(MAX_NDJSON_LINE_CHARS)] });
    const { error, text } = await collect(
      provider().chat(request, { signal: AbortSignal.timeout(30_000), sent: noop }),
    );
    expect(text).toBe("one ");
    expectFailure(error, "failed", `Ollama at ${ollama.url} sent a line longer than it accepts`);
  });

  it("nothing listening at the configured address is unreachable, naming it", async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const p = provider(url);
    const { error } = await collect(p.chat(request, { signal: AbortSignal.timeout(30_000), sent: noop }));
    expectFailure(error, "unreachable", `Ollama is not reachable at ${url} (connection refused): is it running?`);
    await expect(p.listModels(AbortSignal.timeout(30_000))).rejects.toMatchObject({ failure: "unreachable" });
    await expect(p.version(AbortSignal.timeout(30_000))).rejects.toMatchObject({ failure: "unreachable" });
  });

  it("names the configured address without its credentials", async () => {
    const port = await freePort();
    const { error } = await collect(
      provider(`http://ops:hunter2@127.0.0.1:${port}`).chat(request, {
        signal: AbortSignal.timeout(30_000),
        sent: noop,
      }),
    );
    expect(error).toBeInstanceOf(ProviderError);
    expect((error as Error).message).not.toContain("hunter2");
    expect((error as Error).message).toContain(`http://127.0.0.1:${port}`);
  });
});

describe("Ollama provider: another service at the address", () => {
  it.each([
    [200, "text/html", /answered with something other than JSON: is another service listening there\?$/],
    [502, "text/plain", /answered 502$/],
  ])("a %i %s answer fails plainly, and nothing reaches the console", async (status, type, message) => {
    const other = createServer((_req, res) => {
      res.writeHead(status, { "Content-Type": type });
      res.end("<html>not ollama\n\u001b[2Jspoofed log line</html>\n");
    });
    await new Promise<void>((resolve) => other.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
    const consoleCalls = (["log", "warn", "error", "info"] as const).map((m) =>
      vi.spyOn(console, m).mockImplementation(() => undefined),
    );
    try {
      const p = provider(url);
      const { error } = await collect(p.chat(request, { signal: AbortSignal.timeout(30_000), sent: noop }));
      expectFailure(error, "failed", message);
      await expect(p.listModels(AbortSignal.timeout(30_000))).rejects.toMatchObject({ failure: "failed" });
      await expect(p.version(AbortSignal.timeout(30_000))).rejects.toMatchObject({ failure: "failed" });
      for (const spy of consoleCalls) expect(spy).not.toHaveBeenCalled();
    } finally {
      for (const spy of consoleCalls) spy.mockRestore();
      other.closeAllConnections();
      await new Promise<void>((resolve) => other.close(() => resolve()));
    }
  });
});

describe("Ollama provider: timeouts and callers that leave", () => {
  it("a slow Ollama under AbortSignal.timeout is a timeout", async () => {
    ollama.script({ firstByteDelayMs: 600_000 });
    const { error } = await collect(provider().chat(request, { signal: AbortSignal.timeout(100), sent: noop }));
    expectFailure(error, "timeout", `Ollama at ${ollama.url} did not answer in time`);
  });

  // The timer is the test's, so that when it fires does not depend on the machine's speed: it
  // aborts with the same reason AbortSignal.timeout gives (a DOMException named TimeoutError).
  const timedOut = (): DOMException => new DOMException("The operation was aborted due to timeout", "TimeoutError");

  it("a timeout before the first byte closes the connection Ollama was answering on", async () => {
    ollama.script({ firstByteDelayMs: 600_000 });
    const timer = new AbortController();
    const arrived = ollama.nextRequest("/api/chat");
    const result = collect(provider().chat(request, { signal: timer.signal, sent: noop }));
    const recorded = await arrived;
    timer.abort(timedOut());
    expectFailure((await result).error, "timeout", /did not answer in time/);
    expect(await recorded.ended).toBe("client-closed");
  });

  it("a timeout mid-stream, inside the signal a route joins with its client's, is a timeout", async () => {
    ollama.script({ reply: ["one ", "two"], chunkDelayMs: 600_000 });
    const timer = new AbortController();
    const client = new AbortController();
    const signal = AbortSignal.any([timer.signal, client.signal]);
    const parts = provider().chat(request, { signal, sent: noop })[Symbol.asyncIterator]();
    expect(await parts.next()).toEqual({ done: false, value: { kind: "text", text: "one " } });
    const waiting = parts.next();
    timer.abort(timedOut());
    const error = await waiting.then(
      () => undefined,
      (e: unknown) => e,
    );
    expectFailure(error, "timeout", /did not answer in time/);
    const recorded = ollama.requestsTo("/api/chat")[0];
    expect(await recorded?.ended).toBe("client-closed");
    expect(recorded?.chunksSent).toBe(1);
  });

  it("the caller aborting mid-stream rethrows its reason, closes the connection, and generation stops", async () => {
    ollama.script({ reply: ["one ", "two ", "three"], chunkDelayMs: 600_000 });
    const caller = new AbortController();
    const reason = new Error("the client went away");
    const parts = provider().chat(request, { signal: caller.signal, sent: noop })[Symbol.asyncIterator]();
    expect(await parts.next()).toEqual({ done: false, value: { kind: "text", text: "one " } });
    const waiting = parts.next();
    caller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    const recorded = ollama.requestsTo("/api/chat")[0];
    expect(await recorded?.ended).toBe("client-closed");
    expect(recorded?.chunksSent).toBe(1);
  });

  it("a caller that stops reading early closes the connection (no stream left running in Ollama)", async () => {
    ollama.script({ reply: ["one ", "two ", "three"], chunkDelayMs: 600_000 });
    for await (const part of provider().chat(request, { signal: new AbortController().signal, sent: noop })) {
      expect(part).toEqual({ kind: "text", text: "one " });
      break;
    }
    const recorded = ollama.requestsTo("/api/chat")[0];
    expect(await recorded?.ended).toBe("client-closed");
    expect(recorded?.chunksSent).toBe(1);
  }, 10_000);

  it("a signal already aborted makes no request", async () => {
    const caller = new AbortController();
    const reason = new Error("gone before we started");
    caller.abort(reason);
    const { error } = await collect(provider().chat(request, { signal: caller.signal, sent: noop }));
    expect(error).toBe(reason);
    expect(ollama.requests).toHaveLength(0);
  });
});

describe("Ollama provider: egress", () => {
  // [::ffff:127.0.0.1] reaches the test server on 127.0.0.1, but the egress guard does not count
  // it as loopback: only the allow-list lets it out, so it shows the refusal is the guard's.
  const mapped = (): string => `http://[::ffff:127.0.0.1]:${ollama.port}`;

  it("a host not on the allow-list is refused before any request is made", async () => {
    const p = provider(mapped());
    const sent: string[] = [];
    const { error } = await collect(
      p.chat(request, { signal: AbortSignal.timeout(30_000), sent: (body) => sent.push(body) }),
    );
    expectFailure(error, "refused", /not on the allow-list/);
    // What was about to leave is still reported, so the audit can say what was refused.
    expect(sent).toHaveLength(1);
    await expect(p.listModels(AbortSignal.timeout(30_000))).rejects.toMatchObject({ failure: "refused" });
    await expect(p.version(AbortSignal.timeout(30_000))).rejects.toMatchObject({ failure: "refused" });
    expect(ollama.requests).toHaveLength(0);
  });

  it("the same host on the allow-list is reached (the refusal above was the guard's)", async () => {
    const { text, error } = await collect(
      provider(mapped(), [`[::ffff:7f00:1]:${ollama.port}`]).chat(request, {
        signal: AbortSignal.timeout(30_000),
        sent: noop,
      }),
    );
    expect(error).toBeUndefined();
    expect(text).toBe("The sky is blue because of Rayleigh scattering.");
    expect(ollama.requestsTo("/api/chat")).toHaveLength(1);
  });
});
