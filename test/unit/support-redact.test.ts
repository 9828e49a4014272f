/**
 * The safety nets of the support bundle (src/support-bundle/redact.ts): logged paths keep only the API's
 * words and ids, free text loses secret paths, e-mail addresses and tenant names, log records keep
 * only known fields, and the configuration loses the paths of secret files.
 */
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import {
  redactConfig,
  ROUTE_WORDS,
  sanitizeLogLine,
  sanitizePath,
  Scrubber,
  secretPaths,
} from "../../src/support-bundle/redact.js";
import { sourceFiles } from "../source-files.js";

const ID = "0b6f3c1e-9a4d-4e2b-8c7f-1d2e3f4a5b6c";

describe("support bundle redaction", () => {
  it("knows every literal segment of every API route, so that a logged path keeps its shape", () => {
    const paths = sourceFiles("src/server").flatMap((f) =>
      [...f.text.matchAll(/\bpath: "(\/[^"]*)"/g)].map((m) => m[1] ?? ""),
    );
    expect(paths.length).toBeGreaterThan(30);
    const unknown = paths.flatMap((p) =>
      p.split("/").filter((s) => s !== "" && !s.startsWith(":") && !ROUTE_WORDS.has(s)),
    );
    expect(unknown, "add these words to ROUTE_WORDS in src/support-bundle/redact.ts").toEqual([]);
  });

  it("reduces a path to the API's words and ids", () => {
    expect(sanitizePath(`/api/projects/${ID}/nodes`)).toBe(`/api/projects/${ID}/nodes`);
    expect(sanitizePath("/api/secrets/openai-prod-key")).toBe("/api/secrets/[redacted]");
    expect(sanitizePath("/api/tenants/acme-corp?token=abc")).toBe("/api/tenants/[redacted]");
    expect(sanitizePath("/Jane.Doe@example.com/x")).toBe("/[redacted]/[redacted]");
  });

  it("scrubs secret paths (longest first), e-mail addresses and tenant names and slugs as whole words", () => {
    const s = new Scrubber({
      secretPaths: new Map([
        ["/etc/vecto/key", "<a>"],
        ["/etc/vecto/key.old", "<b>"],
      ]),
      terms: ["acme-corp", "Acme Corporation", "xy"],
    });
    expect(s.scrub("read /etc/vecto/key.old and /etc/vecto/key")).toBe("read <b> and <a>");
    expect(s.scrub("mail Jane.Doe+x@mail.example.co.uk now")).toBe("mail [email] now");
    expect(s.scrub("tenant ACME-CORP (Acme Corporation) not acme-corporate")).toBe(
      "tenant [tenant] ([tenant]) not acme-corporate",
    );
    // Too short to scrub without mangling ordinary words (and identifies nobody).
    expect(s.scrub("xy")).toBe("xy");
    expect(s.scrubValue({ a: ["acme-corp", 1, null], b: { c: "x@example.test" } })).toEqual({
      a: ["[tenant]", 1, null],
      b: { c: "[email]" },
    });
  });

  it("keeps a request record's fields, and only the known fields of any record", () => {
    const s = new Scrubber({ terms: ["acme-corp"] });
    const request = JSON.parse(
      sanitizeLogLine(
        JSON.stringify({
          level: "info",
          time: "2026-01-01T00:00:00.000Z",
          service: "vecto",
          requestId: "r1",
          method: "PUT",
          path: "/api/secrets/acme-openai",
          status: 200,
          ms: 3.2,
          msg: "request",
        }),
        s,
      ),
    ) as Record<string, unknown>;
    expect(request).toEqual({
      level: "info",
      time: "2026-01-01T00:00:00.000Z",
      service: "vecto",
      requestId: "r1",
      method: "PUT",
      path: "/api/secrets/[redacted]",
      status: 200,
      ms: 3.2,
      msg: "request",
    });

    const audit = JSON.parse(
      sanitizeLogLine(
        JSON.stringify({
          level: "info",
          audit: {
            event: "graph.node_created",
            tenantId: ID,
            actor: { type: "human", id: ID, name: "Jane Doe" },
            payload: { title: "secret plan" },
          },
          msg: "graph.node_created",
        }),
        s,
      ),
    ) as Record<string, unknown>;
    expect(audit).toEqual({
      level: "info",
      audit: { event: "graph.node_created", tenantId: ID, actor: { type: "human", id: ID } },
      msg: "graph.node_created",
    });

    const hostile = sanitizeLogLine(
      JSON.stringify({
        level: "error",
        msg: "mail to jane@example.test about acme-corp",
        title: "Secret Plan",
        body: { text: "Secret Body" },
        "weird key!": 1,
        error: {
          name: "SyntaxError",
          message: 'Unexpected token in "Secret Plan"',
          stack:
            'SyntaxError: Unexpected token in "Secret Plan"\n    at JSON.parse (<anonymous>)\n    at handler (/opt/vecto/x.js:1:2)',
        },
      }),
      s,
    );
    expect(hostile).not.toMatch(/Secret|jane|acme/i);
    const record = JSON.parse(hostile) as { msg: string; redactedFields: string[]; error: Record<string, string> };
    expect(record.msg).toBe("mail to [email] about [tenant]");
    expect(record.redactedFields).toEqual(["?", "body", "title"]);
    expect(record.error).toEqual({
      name: "SyntaxError",
      message: "[omitted: 33 characters]",
      stack: "    at JSON.parse (<anonymous>)\n    at handler (/opt/vecto/x.js:1:2)",
    });

    // pino's log.error(err) copies the message into msg.
    const pinoErr = JSON.parse(
      sanitizeLogLine(
        JSON.stringify({ level: "error", msg: "bad Secret Plan", err: { type: "Error", message: "bad Secret Plan" } }),
        s,
      ),
    ) as { msg: string };
    expect(pinoErr.msg).toBe("[error message omitted: 15 characters]");
  });

  it("replaces any other text line by its length, keeps stack frames", () => {
    const s = new Scrubber();
    expect(sanitizeLogLine("Uncaught Error: Secret Plan", s)).toBe("[non-JSON line omitted: 27 characters]");
    expect(sanitizeLogLine("{not json: Secret Plan", s)).toBe("[non-JSON line omitted: 22 characters]");
    expect(sanitizeLogLine("    at main (/opt/vecto/bin:1:2)", s)).toBe("    at main (/opt/vecto/bin:1:2)");
    expect(sanitizeLogLine("-- Boot 3f2a --", s)).toBe("-- Boot 3f2a --");
  });

  it("redacts the paths of secret files from the configuration, keeps the rest", () => {
    const config = loadConfig(
      {
        VECTO_ENV_FILE: "/dev/null",
        VECTO_DATA_DIR: "/var/lib/vecto",
        VECTO_MASTER_KEY_FILE: "/run/creds/master-key",
        VECTO_TLS_CERT: "/etc/vecto/cert.pem",
        VECTO_TLS_KEY: "/etc/vecto/tls-private.pem",
        VECTO_TLS_CLIENT_CA: "/etc/vecto/client-ca.pem",
        VECTO_PKCS11_LIB: "/usr/lib/softhsm/libsofthsm2.so",
        VECTO_PKCS11_TOKEN_LABEL: "vecto",
        VECTO_PKCS11_PIN_FILE: "/run/creds/pkcs11-pin",
        VECTO_PKCS11_KEY_LABEL: "vecto-master",
        VECTO_PREVIOUS_MASTER_KEYS: "file:/run/creds/old-master-key,pkcs11:old-label",
        VECTO_OLLAMA_URL: "http://user:hunter2@127.0.0.1:11434/?k=v",
      },
      "/",
    );
    const text = JSON.stringify(redactConfig(config));
    for (const secret of [
      "/run/creds/master-key",
      "/etc/vecto/tls-private.pem",
      "/run/creds/pkcs11-pin",
      "/run/creds/old-master-key",
      "hunter2",
    ])
      expect(text).not.toContain(secret);
    expect(redactConfig(config)).toMatchObject({
      dataDir: "/var/lib/vecto",
      // A CA certificate is public: support may need to know which one is trusted.
      tls: { certFile: "/etc/vecto/cert.pem", selfSigned: false, clientCaFile: "/etc/vecto/client-ca.pem" },
      pkcs11: { library: "/usr/lib/softhsm/libsofthsm2.so", tokenLabel: "vecto", keyLabel: "vecto-master" },
      previousMasterKeys: [{ kind: "env" }, { kind: "pkcs11", keyLabel: "old-label" }],
      ollamaUrl: "http://127.0.0.1:11434/ (credentials and query removed)",
    });
    expect([...secretPaths(config).values()].sort()).toEqual([
      "<master key file>",
      "<pkcs11 pin file>",
      "<previous master key file 1>",
      "<tls key file>",
    ]);
  });
});
