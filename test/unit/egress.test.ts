/** The egress guard decides before any socket is opened; loopback is allowed, everything else only by name. */
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkEgress, createEgress, EgressDeniedError } from "../../src/egress.js";

describe("egress", () => {
  let server: Server;
  let port: number;
  let hits = 0;

  beforeAll(async () => {
    server = createServer((_req, res) => {
      hits++;
      res.end("pong");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("reaches a loopback service (where a local Ollama lives)", async () => {
    const egress = createEgress({ allow: [] });
    const res = await egress.fetch("test", `http://127.0.0.1:${port}/api/tags`);
    expect(await res.text()).toBe("pong");
    expect(hits).toBe(1);
  });

  it.each([
    "https://api.openai.com/v1/chat/completions",
    "http://10.0.0.5:11434/",
    "http://192.168.1.10/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[2001:db8::1]/",
    "http://127.0.0.1.nip.io/",
    "http://localhost.example.com/",
  ])("refuses %s before connecting", async (url) => {
    const egress = createEgress({ allow: [] });
    await expect(egress.fetch("test", url)).rejects.toBeInstanceOf(EgressDeniedError);
  });

  it("refuses non-HTTP schemes even on loopback", () => {
    expect(() => checkEgress({ allow: [] }, new URL("file:///etc/passwd"))).toThrow(EgressDeniedError);
    expect(() => checkEgress({ allow: [] }, new URL("ftp://127.0.0.1/"))).toThrow(EgressDeniedError);
  });

  it("allows exactly the configured host:port, not its neighbours", () => {
    const policy = { allow: ["llm.internal.example:443"] };
    expect(() => checkEgress(policy, new URL("https://llm.internal.example/v1"))).not.toThrow();
    expect(() => checkEgress(policy, new URL("https://llm.internal.example:8443/v1"))).toThrow(EgressDeniedError);
    expect(() => checkEgress(policy, new URL("http://llm.internal.example/v1"))).toThrow(EgressDeniedError);
    expect(() => checkEgress(policy, new URL("https://evil.llm.internal.example/v1"))).toThrow(EgressDeniedError);
  });

  it("does not follow a redirect from an allowed host to another one", async () => {
    const redirector = createServer((_req, res) => {
      res.writeHead(302, { Location: "http://203.0.113.9/exfiltrate" });
      res.end();
    });
    await new Promise<void>((resolve) => redirector.listen(0, "127.0.0.1", resolve));
    const redirectPort = (redirector.address() as { port: number }).port;
    const res = await createEgress({ allow: [] }).fetch("test", `http://127.0.0.1:${redirectPort}/`);
    expect(res.status).toBe(302);
    await new Promise<void>((resolve) => redirector.close(() => resolve()));
  });
});
