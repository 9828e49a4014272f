/**
 * The HTTP/TLS transport as a raw client meets it: what the HTTP layer refuses before the app is
 * problem+json with a request id, and a keep-alive connection survives a response sent before
 * its request body was read (or says `Connection: close` and ends cleanly).
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { prepareForServe } from "../../src/data-dir.js";
import { createLogger } from "../../src/log.js";
import { buildApp } from "../../src/server/app.js";
import { servedParts } from "../../src/server/deps.js";
import { startServer, type RunningServer } from "../../src/server/listen.js";
import { readTlsFiles } from "../../src/tls/tls-files.js";
import { DISCARD_LIMIT_BYTES } from "../../src/server/transport/connection.js";
import { openServices, type Services } from "../../src/services.js";
import { tempDir } from "../helpers.js";
import { RawConnection, type RawResponse } from "../raw-http.js";

const BODY_LIMIT = 4096;
const HEALTH = "GET /healthz HTTP/1.1\r\nHost: vecto.test\r\n\r\n";

function post(path: string, headers: string, body = ""): string {
  return `POST ${path} HTTP/1.1\r\nHost: vecto.test\r\nContent-Type: application/json\r\n${headers}\r\n${body}`;
}

describe("HTTP transport", () => {
  const dir = tempDir();
  const logLines: string[] = [];
  let services: Services;
  let server: RunningServer;
  let port: number;
  /** Requests the counting route processed: a request the server must not process leaves it unchanged. */
  let processed = 0;

  beforeAll(async () => {
    const config = loadConfig(
      {
        VECTO_ENV_FILE: "/dev/null",
        VECTO_DATA_DIR: join(dir.path, "data"),
        VECTO_LISTEN: "127.0.0.1:0",
        VECTO_HTTP_LISTEN: "127.0.0.1:0",
        VECTO_BODY_LIMIT_BYTES: String(BODY_LIMIT),
      },
      dir.path,
    );
    const log = createLogger("info", { write: (line: string) => void logLines.push(line) });
    await prepareForServe(config, log);
    services = await openServices(config, log);
    const app = buildApp({ ...servedParts(services), log, bodyLimitBytes: config.bodyLimitBytes }, [
      (a) =>
        a.post("/api/test/count", async (c) => {
          processed += 1;
          return c.json({ processed, bytes: (await c.req.text()).length });
        }),
    ]);
    server = await startServer(app, {
      listen: config.listen,
      redirectListen: config.redirectListen,
      tls: readTlsFiles(config.tls),
      log,
    });
    port = server.address.port;
  });

  afterAll(async () => {
    await server.close();
    services.close();
    dir.cleanup();
  });

  function expectProblem(res: RawResponse, status: number, kind: string): void {
    expect(res.status).toBe(status);
    expect(res.headers["content-type"]).toBe("application/problem+json");
    const body = JSON.parse(res.body) as Record<string, unknown>;
    expect(body).toMatchObject({ type: `urn:vecto:problem:${kind}`, status });
    expect(typeof body.title).toBe("string");
    expect(res.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
    expect(body.requestId).toBe(res.headers["x-request-id"]);
  }

  async function exchange(
    bytes: string,
    kind: "tls" | "tcp" = "tls",
    to = port,
  ): Promise<{ res: RawResponse; ending: { error: string | null; trailing: number } }> {
    const conn = await RawConnection.open(to, kind);
    conn.write(bytes);
    const res = await conn.response();
    const ending = await conn.ending();
    conn.destroy();
    return { res, ending };
  }

  describe("what the HTTP layer refuses is problem+json with a request id", () => {
    it.each([
      ["a NUL in the path", "GET /a\u0000b HTTP/1.1\r\nHost: vecto.test\r\n\r\n", 400, "bad-request"],
      ["a space in the path", "GET /a b/c HTTP/1.1\r\nHost: vecto.test\r\n\r\n", 400, "bad-request"],
      ["a 100 KB URL", `GET /${"a".repeat(100_000)} HTTP/1.1\r\nHost: vecto.test\r\n\r\n`, 431, "headers-too-large"],
      [
        "a 64 KB header",
        `GET / HTTP/1.1\r\nHost: vecto.test\r\nX-Big: ${"a".repeat(65_536)}\r\n\r\n`,
        431,
        "headers-too-large",
      ],
      ["an invalid method", "GE@T / HTTP/1.1\r\nHost: vecto.test\r\n\r\n", 400, "bad-request"],
      ["an invalid Content-Length", post("/api/test/count", "Content-Length: 12abc\r\n"), 400, "bad-request"],
      [
        "Content-Length and Transfer-Encoding together",
        post("/api/test/count", "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n"),
        400,
        "bad-request",
      ],
      [
        "chunked garbage",
        post("/api/test/count", "Transfer-Encoding: chunked\r\n", "zz\r\nabc\r\n"),
        400,
        "bad-request",
      ],
      ["an invalid HTTP version", "GET / HTTP/9.9\r\nHost: vecto.test\r\n\r\n", 400, "bad-request"],
      [
        "a backslash in the path (valid for Node, not a URL)",
        "GET /a\\b HTTP/1.1\r\nHost: vecto.test\r\n\r\n",
        400,
        "bad-request",
      ],
      ["a Host header that is no host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "bad-request"],
      ["an HTTP/1.1 request without Host", "GET /healthz HTTP/1.1\r\n\r\n", 400, "bad-request"],
      [
        "an unsupported Expect",
        "GET /healthz HTTP/1.1\r\nHost: vecto.test\r\nExpect: magic\r\n\r\n",
        417,
        "expectation-failed",
      ],
      ["CONNECT", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 405, "method-not-allowed"],
    ])("%s", async (_name, bytes, status, kind) => {
      const { res, ending } = await exchange(bytes);
      expectProblem(res, status, kind);
      expect(res.headers["strict-transport-security"]).toBe("max-age=63072000; includeSubDomains");
      expect(res.headers["x-content-type-options"]).toBe("nosniff");
      expect(res.headers.connection).toBe("close");
      // The response is complete and the connection then ends without a reset.
      expect(ending).toEqual({ error: null, trailing: 0 });
    });

    it("a client still sending an oversized header block reads the whole 431 and sees no reset", async () => {
      const conn = await RawConnection.open(port);
      conn.write("GET / HTTP/1.1\r\nHost: vecto.test\r\nX-Big: ");
      const sent = conn.writeAll(Buffer.alloc(4 * 1024 * 1024, 0x61));
      expectProblem(await conn.response(), 431, "headers-too-large");
      await sent;
      expect(await conn.ending()).toEqual({ error: null, trailing: 0 });
      conn.end();
      await conn.closed();
    });

    it("also on the plain-HTTP redirect listener", async () => {
      const redirect = server.redirectAddress?.port ?? 0;
      const { res } = await exchange("GET /a\u0000b HTTP/1.1\r\nHost: vecto.test\r\n\r\n", "tcp", redirect);
      expectProblem(res, 400, "bad-request");
    });

    it("logs one line per refusal, with the request id and the parser's code, never the request bytes", async () => {
      const { res } = await exchange("GET /SECRET-MARKER\u0000 HTTP/1.1\r\nHost: vecto.test\r\n\r\n");
      const requestId = res.headers["x-request-id"];
      const lines = logLines.filter((l) => l.includes(requestId ?? "-"));
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0] ?? "{}")).toMatchObject({
        msg: "request refused by the HTTP layer",
        status: 400,
        reason: "HPE_INVALID_URL",
      });
      expect(logLines.join("\n")).not.toContain("SECRET-MARKER");
    });

    it("a well-formed request on the same listener is still answered normally", async () => {
      const conn = await RawConnection.open(port);
      conn.write(HEALTH);
      expect((await conn.response()).status).toBe(200);
      conn.destroy();
    });
  });

  describe("keep-alive survives a response sent before the request body was read", () => {
    it.each([BODY_LIMIT + 1, DISCARD_LIMIT_BYTES])(
      "413 for a %i-byte body: the body is discarded and the next request is answered on the same connection",
      async (size) => {
        const conn = await RawConnection.open(port);
        conn.write(post("/api/test/count", `Content-Length: ${size}\r\n`, "x".repeat(size)));
        const refused = await conn.response();
        expectProblem(refused, 413, "payload-too-large");
        expect(refused.headers.connection).toBe("keep-alive");
        conn.write(HEALTH);
        expect((await conn.response()).status).toBe(200);
        conn.destroy();
      },
    );

    it("401 answered before the body arrived: the body sent afterwards is discarded, the connection goes on", async () => {
      const conn = await RawConnection.open(port);
      conn.write(post("/api/tenants", "Content-Length: 3000\r\n"));
      const refused = await conn.response();
      expectProblem(refused, 401, "unauthorized");
      expect(refused.headers.connection).toBe("keep-alive");
      conn.write(`${"x".repeat(3000)}${HEALTH}`);
      expect((await conn.response()).status).toBe(200);
      conn.destroy();
    });

    it("404 with a body: the next request is answered on the same connection", async () => {
      const conn = await RawConnection.open(port);
      conn.write(post("/api/no-such-route", "Content-Length: 3000\r\n", "x".repeat(3000)));
      expectProblem(await conn.response(), 404, "not-found");
      conn.write(HEALTH);
      expect((await conn.response()).status).toBe(200);
      conn.destroy();
    });

    it.each([
      [
        "a large Content-Length, body sent",
        `Content-Length: ${DISCARD_LIMIT_BYTES * 4}\r\n`,
        "x".repeat(DISCARD_LIMIT_BYTES * 4),
      ],
      ["a large Content-Length, body never sent", `Content-Length: ${DISCARD_LIMIT_BYTES * 4}\r\n`, ""],
      [
        "a large chunked body",
        "Transfer-Encoding: chunked\r\n",
        `${(DISCARD_LIMIT_BYTES * 4).toString(16)}\r\n${"x".repeat(DISCARD_LIMIT_BYTES * 4)}\r\n0\r\n\r\n`,
      ],
    ])(
      "413 for %s: Connection: close, the full response, a clean close, and the request behind it is not processed",
      async (_name, headers, body) => {
        const before = processed;
        const conn = await RawConnection.open(port);
        conn.write(post("/api/test/count", headers, body));
        // Pipelined behind the refused request: RFC 9112 9.6 says it must not be processed.
        conn.write(post("/api/test/count", "Content-Length: 2\r\n", "{}"));
        const refused = await conn.response();
        expectProblem(refused, 413, "payload-too-large");
        expect(refused.headers.connection).toBe("close");
        expect(await conn.ending()).toEqual({ error: null, trailing: 0 });
        conn.end();
        await conn.closed();
        expect(processed).toBe(before);
        // The client reconnects, and is served.
        const next = await RawConnection.open(port);
        next.write(post("/api/test/count", "Content-Length: 2\r\n", "{}"));
        expect((await next.response()).status).toBe(200);
        expect(processed).toBe(before + 1);
        next.destroy();
      },
    );

    it("a client still sending a large body while the 413 goes out reads the whole response and sees no reset", async () => {
      const size = 8 * 1024 * 1024;
      const conn = await RawConnection.open(port);
      conn.write(post("/api/test/count", `Content-Length: ${size}\r\n`));
      const sent = conn.writeAll(Buffer.alloc(size, 0x78));
      const refused = await conn.response();
      expectProblem(refused, 413, "payload-too-large");
      expect(refused.headers.connection).toBe("close");
      await sent;
      expect(await conn.ending()).toEqual({ error: null, trailing: 0 });
      conn.end();
      await conn.closed();
    });
  });
});
