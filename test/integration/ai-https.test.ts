/**
 * The AI features on a real `vecto serve` (the bundled dist/vecto.cjs) over HTTPS, in front of the
 * Ollama-compatible test server: the NDJSON stream as a client reads it off the socket, a feature
 * whose request has a body (the decision draft), and a client that hangs up mid-stream, whose
 * model request the appliance must end (the socket's close, not the in-process test's signal).
 */
import { request } from "node:https";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startOllamaServer, type OllamaServer } from "../fixtures/ollama-server.js";
import { tempDir, waitForExit, type startServe } from "../helpers.js";
import { serveAcme, type Call } from "../serve-client.js";

describe("AI features over HTTPS", () => {
  const dir = tempDir();
  let port = 0;
  let server: Awaited<ReturnType<typeof startServe>> | undefined;
  let ollama: OllamaServer;
  let call: Call;
  let admin = "";
  let projectId = "";

  const ok = async <T>(method: string, path: string, body?: unknown, status = 200): Promise<T> => {
    const res = await call(method, path, { token: admin, ...(body === undefined ? {} : { body }) });
    expect(res.status, res.body).toBe(status);
    return JSON.parse(res.body) as T;
  };
  const node = async (type: string, title: string): Promise<string> =>
    (await ok<{ node: { id: string } }>("POST", `/api/projects/${projectId}/nodes`, { type, title }, 201)).node.id;

  beforeAll(async () => {
    ollama = await startOllamaServer();
    ({ port, server, call, admin } = await serveAcme(dir.path, { VECTO_OLLAMA_URL: ollama.url }));
    projectId = (await ok<{ project: { id: string } }>("POST", "/api/projects", { name: "AI over HTTPS" }, 201)).project
      .id;
    await ok("PUT", "/api/ai/settings", { useCases: { default: { provider: "ollama", model: "llama3.2:latest" } } });
  });

  afterAll(async () => {
    if (server) {
      server.child.kill("SIGTERM");
      await waitForExit(server.child);
    }
    await ollama.close();
    dir.cleanup();
  });

  it("streams a summary as NDJSON lines, then done", async () => {
    ollama.reset();
    ollama.script({ reply: ["Signed ", "releases."] });
    const id = await node("idea", "Sign releases");
    const res = await call("POST", `/api/projects/${projectId}/nodes/${id}/ai/summarize`, { token: admin });
    expect(res.status).toBe(200);
    const lines = res.body
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => JSON.parse(line) as { type: string; text?: string });
    expect(lines.filter((l) => l.type === "text").map((l) => l.text)).toEqual(["Signed ", "releases."]);
    expect(lines.at(-1)?.type).toBe("done");
  });

  it("drafts a decision from a request with a body, saved as a draft", async () => {
    ollama.reset();
    ollama.script({
      reply: JSON.stringify({ title: "Sign every release", context: "c", decision: "d", consequences: "e" }),
    });
    const idea = await node("idea", "Releases need signatures");
    const res = await call("POST", `/api/projects/${projectId}/ai/decision-draft`, {
      token: admin,
      body: { sources: [idea] },
    });
    expect(res.status, res.body).toBe(200);
    const draft = res.body
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => JSON.parse(line) as { type: string; node?: { title: string; draft: boolean } })
      .find((line) => line.type === "draft");
    expect(draft?.node).toMatchObject({ title: "Sign every release", draft: true });
  });

  it("a client that hangs up mid-stream ends the model's request", async () => {
    ollama.reset();
    ollama.script({ reply: ["one ", "two ", "three ", "four ", "five "], chunkDelayMs: 400 });
    const id = await node("idea", "Hang up");
    const chat = ollama.nextRequest("/api/chat");
    await new Promise<void>((resolve, reject) => {
      const req = request(
        {
          host: "127.0.0.1",
          port,
          path: `/api/projects/${projectId}/nodes/${id}/ai/summarize`,
          method: "POST",
          headers: { Authorization: `Bearer ${admin}` },
          rejectUnauthorized: false,
          agent: false,
        },
        (res) => {
          res.once("data", () => {
            req.destroy();
            resolve();
          });
        },
      );
      req.on("error", (error: Error) => (error.message.includes("socket hang up") ? undefined : reject(error)));
      req.end();
    });
    const sent = await chat;
    expect(await sent.ended).toBe("client-closed");
    expect(sent.chunksSent).toBeLessThan(5);
  });
});
