/**
 * The HTTPS server as a client meets it: a real TLS 1.3 listener on loopback, the real app
 * with a real database and master key file.
 */
import { join } from "node:path";
import { request as httpRequest } from "node:http";
import { request as httpsRawRequest } from "node:https";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { loadConfig } from "../../src/config.js";
import { prepareForServe } from "../../src/data-dir.js";
import { createLogger } from "../../src/log.js";
import { buildApp } from "../../src/server/app.js";
import { servedParts } from "../../src/server/deps.js";
import { jsonBody } from "../../src/server/json-body.js";
import { startServer, type RunningServer } from "../../src/server/listen.js";
import { streamedBody } from "../../src/server/streamed.js";
import { readTlsFiles } from "../../src/tls/tls-files.js";
import { openServices, type Services } from "../../src/services.js";
import { httpsRequest, tempDir } from "../helpers.js";

const echoInput = z.strictObject({ text: z.string() });

/** POSTs `body` (Content-Length set) in `pieces` writes a few milliseconds apart; the answer's status and text. */
function postInPieces(
  port: number,
  path: string,
  body: string,
  pieces: number,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRawRequest(
      {
        host: "127.0.0.1",
        port,
        path,
        method: "POST",
        rejectUnauthorized: false,
        headers: { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (text += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on("error", reject);
    const bytes = Buffer.from(body);
    const size = Math.ceil(bytes.length / pieces);
    const send = (i: number): void => {
      if (i >= pieces) return void req.end();
      req.write(bytes.subarray(i * size, (i + 1) * size));
      setTimeout(() => send(i + 1), 5);
    };
    send(0);
  });
}

const tenantInput = z.strictObject({ slug: z.string().regex(/^[a-z0-9-]{2,40}$/), name: z.string().min(1).max(200) });

describe("HTTPS server", () => {
  const dir = tempDir();
  let services: Services;
  let server: RunningServer;
  let port: number;

  beforeAll(async () => {
    const config = loadConfig(
      {
        VECTO_ENV_FILE: "/dev/null",
        VECTO_DATA_DIR: join(dir.path, "data"),
        VECTO_LISTEN: "127.0.0.1:0",
        VECTO_HTTP_LISTEN: "127.0.0.1:0",
        VECTO_BODY_LIMIT_BYTES: "4096",
      },
      dir.path,
    );
    const log = createLogger("silent");
    await prepareForServe(config, log);
    services = await openServices(config, log);
    // A route in the real chain that validates a body and writes: bad input must leave no trace.
    const app = buildApp({ ...servedParts(services), log, bodyLimitBytes: config.bodyLimitBytes }, [
      (a) =>
        a.post("/api/test/tenants", async (c) => {
          const input = await jsonBody(c, tenantInput);
          await services.db.write((tx) => {
            tx.tenants.create({
              id: input.slug,
              slug: input.slug,
              nameEnc: null,
              kind: "customer",
              status: "active",
              accessTokenTtlSeconds: 28800,
              createdAt: tx.now,
            });
            tx.audit({
              event: "tenant.created",
              sensitivity: "normal",
              severity: "info",
              tenantId: input.slug,
              actor: { type: "system", id: "test" },
              payload: { slug: input.slug },
            });
          });
          return c.json({ id: input.slug }, 201);
        }),
      // A body read whole whether or not something asked Hono for the raw body first (json-body.ts).
      (a) => a.post("/api/test/echo", async (c) => c.json(await jsonBody(c, echoInput))),
      (a) =>
        a.post("/api/test/echo-after-raw", async (c) => {
          void c.req.raw.body;
          // By now @hono/node-server's web stream has started pulling the socket's bytes.
          await new Promise((resolve) => setTimeout(resolve, 20));
          return c.json(await jsonBody(c, echoInput));
        }),
      (a) =>
        a.get("/api/test/boom", () => {
          throw new Error('SQLITE_ERROR: near "SELEC": syntax error in SELEC * FROM secrets');
        }),
      // Answers of every shape, for the security headers: a download, no content, a handler's own
      // Response, and a handler that tries to weaken the headers it was given.
      (a) =>
        a.get("/api/test/download", (c) => {
          c.header("Content-Type", "application/x-ndjson");
          c.header("Content-Disposition", 'attachment; filename="test.ndjson"');
          return streamedBody(
            c,
            Readable.from(['{"n":1}\n', '{"n":2}\n']),
            { log, durability: services.durability },
            "test download",
          );
        }),
      (a) => a.delete("/api/test/empty", (c) => c.body(null, 204)),
      (a) =>
        a.get(
          "/api/test/own-response",
          () =>
            new Response('{"own":true}', {
              headers: { "Content-Type": "application/json", "X-Frame-Options": "SAMEORIGIN" },
            }),
        ),
      (a) =>
        a.get("/api/test/weakened", (c) => {
          c.header("Content-Security-Policy", "default-src *");
          c.header("Cache-Control", "public, max-age=3600");
          return c.json({ weakened: false });
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

  it("answers /healthz and /readyz", async () => {
    const health = await httpsRequest(port, "/healthz");
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toEqual({ status: "ok" });
    const ready = await httpsRequest(port, "/readyz");
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body)).toEqual({
      status: "ready",
      checks: { database: "ok", storage: "ok", keys: "ok" },
      license: "unlicensed",
      warnings: [],
    });
  });

  it("speaks TLS 1.3 and refuses a TLS 1.2 client", async () => {
    const ok = await httpsRequest(port, "/healthz", { minVersion: "TLSv1.3" });
    expect(ok.status).toBe(200);
    await expect(httpsRequest(port, "/healthz", { maxVersion: "TLSv1.2" })).rejects.toMatchObject({
      code: expect.stringMatching(/ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION|EPROTO|ECONNRESET/),
    });
  });

  it("puts the security headers on every response, errors included", async () => {
    for (const path of ["/healthz", "/no-such-route"]) {
      const res = await httpsRequest(port, path);
      expect(res.headers["strict-transport-security"]).toBe("max-age=63072000; includeSubDomains");
      expect(res.headers["content-security-policy"]).toContain(
        "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
      );
      expect(res.headers["x-content-type-options"]).toBe("nosniff");
      expect(res.headers["referrer-policy"]).toBe("no-referrer");
      expect(res.headers["x-frame-options"]).toBe("DENY");
      expect(res.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
      expect(res.headers["x-powered-by"]).toBeUndefined();
    }
  });

  it("puts the same security headers on every kind of answer: JSON, problem+json, 404, 413, 500, a download, no content, a handler's own Response", async () => {
    const expected: Record<string, string> = {
      "content-security-policy":
        "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
      "cross-origin-opener-policy": "same-origin",
      "cross-origin-resource-policy": "same-origin",
      "origin-agent-cluster": "?1",
      "referrer-policy": "no-referrer",
      "strict-transport-security": "max-age=63072000; includeSubDomains",
      "x-content-type-options": "nosniff",
      "x-dns-prefetch-control": "off",
      "x-download-options": "noopen",
      "x-frame-options": "DENY",
      "x-permitted-cross-domain-policies": "none",
      "x-xss-protection": "0",
    };
    const json = { "Content-Type": "application/json" };
    const answers: [string, string, Parameters<typeof httpsRequest>[2], number][] = [
      ["probe JSON", "/healthz", {}, 200],
      ["API JSON", "/api/test/weakened", {}, 200],
      ["problem+json", "/api/test/tenants", { method: "POST", body: '{"slug":"NO"}', headers: json }, 422],
      ["too large", "/api/test/tenants", { method: "POST", body: "x".repeat(5000), headers: json }, 413],
      ["no route", "/api/nothing-here", {}, 404],
      ["no route outside the API", "/nothing-here", {}, 404],
      ["unhandled error", "/api/test/boom", {}, 500],
      ["download", "/api/test/download", {}, 200],
      ["no content", "/api/test/empty", { method: "DELETE" }, 204],
      ["a handler's own Response", "/api/test/own-response", {}, 200],
    ];
    for (const [what, path, options, status] of answers) {
      const res = await httpsRequest(port, path, options);
      expect(res.status, what).toBe(status);
      for (const [name, value] of Object.entries(expected)) expect(res.headers[name], `${what}: ${name}`).toBe(value);
      // The API's answers may carry tenant data: never cached, whatever the handler said.
      expect(res.headers["cache-control"], what).toBe(path.startsWith("/api/") ? "no-store" : undefined);
      // (X-Request-Id is set by its own middleware, which a handler's own Response bypasses: none in src/ does that.)
      if (!path.endsWith("/own-response")) expect(String(res.headers["x-request-id"]), what).toMatch(/^[0-9a-f-]{36}$/);
      expect(res.headers["x-powered-by"], what).toBeUndefined();
    }
    const download = await httpsRequest(port, "/api/test/download");
    expect(download.headers["content-disposition"]).toBe('attachment; filename="test.ndjson"');
    expect(download.body).toBe('{"n":1}\n{"n":2}\n');
  });

  it("keeps a well-formed caller request id and replaces a hostile one", async () => {
    expect(
      (await httpsRequest(port, "/healthz", { headers: { "X-Request-Id": "trace-12345678" } })).headers["x-request-id"],
    ).toBe("trace-12345678");
    expect(
      (await httpsRequest(port, "/healthz", { headers: { "X-Request-Id": "<script>alert(1)</script>" } })).headers[
        "x-request-id"
      ],
    ).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("reads a JSON body whole when it arrives in pieces, whether or not something asked for the raw body first", async () => {
    const text = "päckchen ".repeat(300);
    const body = JSON.stringify({ text });
    for (const path of ["/api/test/echo", "/api/test/echo-after-raw"]) {
      const answers = await Promise.all([1, 3, 7].map((pieces) => postInPieces(port, path, body, pieces)));
      for (const answer of answers) expect({ path, ...answer }).toEqual({ path, status: 200, text: body });
    }
  });

  it("answers unknown routes with RFC 9457 problem+json", async () => {
    const res = await httpsRequest(port, "/api/nothing-here");
    expect(res.status).toBe(404);
    expect(res.headers["content-type"]).toBe("application/problem+json");
    expect(JSON.parse(res.body)).toMatchObject({
      type: "urn:vecto:problem:not-found",
      title: "Not found",
      status: 404,
    });
    expect(res.headers["cache-control"]).toBe("no-store");
  });

  it("hides internal errors: no stack, no SQL, only a request id", async () => {
    const res = await httpsRequest(port, "/api/test/boom");
    expect(res.status).toBe(500);
    const body = JSON.parse(res.body) as Record<string, unknown>;
    expect(body).toMatchObject({ type: "urn:vecto:problem:internal-error", status: 500 });
    expect(body.requestId).toBe(res.headers["x-request-id"]);
    expect(res.body).not.toMatch(/SELEC|secrets|SQLITE|at .*\.ts:\d+/);
  });

  describe("bad input gets a 4xx problem and writes nothing", () => {
    const post = (body: string | Buffer, contentType = "application/json") =>
      httpsRequest(port, "/api/test/tenants", { method: "POST", body, headers: { "Content-Type": contentType } });

    it.each([
      ["malformed JSON", '{"slug": "acme",', "application/json", 400, "malformed-json"],
      ["wrong content type", "slug=acme&name=Acme", "application/x-www-form-urlencoded", 415, "unsupported-media-type"],
      ["missing content type", '{"slug":"acme","name":"Acme"}', "", 415, "unsupported-media-type"],
      ["unknown field", '{"slug":"acme","name":"Acme","admin":true}', "application/json", 422, "validation-failed"],
      ["wrong type", '{"slug":"acme","name":42}', "application/json", 422, "validation-failed"],
      [
        "invalid UTF-8",
        Buffer.concat([Buffer.from('{"slug":"acme","name":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]),
        "application/json",
        400,
        "bad-request",
      ],
      [
        "deeply nested",
        `{"slug":"acme","name":"x","n":${"[".repeat(100)}${"]".repeat(100)}}`,
        "application/json",
        400,
        "bad-request",
      ],
      [
        "oversized body",
        JSON.stringify({ slug: "acme", name: "x".repeat(5000) }),
        "application/json",
        413,
        "payload-too-large",
      ],
    ])("%s", async (_name, body, contentType, status, kind) => {
      const res = await post(body, contentType);
      expect(res.status).toBe(status);
      expect(res.headers["content-type"]).toBe("application/problem+json");
      expect(JSON.parse(res.body)).toMatchObject({ type: `urn:vecto:problem:${kind}`, status });
      expect(services.db.tenants.list()).toEqual([]);
    });

    it("names what was wrong", async () => {
      const res = await post('{"slug":"acme","name":"Acme","admin":true}');
      const body = JSON.parse(res.body) as { errors: { path: string; message: string }[] };
      expect(body.errors.map((e) => e.path)).toEqual(["(body)"]);
      expect(body.errors[0]?.message).toContain("admin");
    });

    it("and good input is written", async () => {
      const res = await post('{"slug":"acme","name":"Acme"}');
      expect(res.status).toBe(201);
      expect(services.db.tenants.list().map((t) => t.id)).toEqual(["acme"]);
    });
  });

  it("redirects plain HTTP to HTTPS and serves nothing over it", async () => {
    const redirect = server.redirectAddress;
    expect(redirect).not.toBeNull();
    const res = await new Promise<{ status: number; location: string | undefined; body: string }>((resolve, reject) => {
      const req = httpRequest(
        { host: "127.0.0.1", port: redirect?.port, path: "/healthz?x=1", headers: { Host: "evil.example:80" } },
        (r) => {
          let body = "";
          r.on("data", (d: Buffer) => (body += d.toString()));
          r.on("end", () => resolve({ status: r.statusCode ?? 0, location: r.headers.location, body }));
        },
      );
      req.on("error", reject);
      req.end();
    });
    expect(res.status).toBe(308);
    expect(res.location).toBe(`https://127.0.0.1:${port}/healthz?x=1`);
    expect(res.body).toBe("");
  });
});
