/** Secrets never reach a log: not from request logging, not when code logs an object carelessly. */
import { Writable } from "node:stream";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { loadConfig } from "../../src/config.js";
import { prepareForServe } from "../../src/data-dir.js";
import { createLogger } from "../../src/log.js";
import { buildApp } from "../../src/server/app.js";
import { servedParts } from "../../src/server/deps.js";
import { jsonBody } from "../../src/server/json-body.js";
import { openServices, type Services } from "../../src/services.js";
import { tempDir, testDir } from "../helpers.js";
import { identityFixture, STRONG_PASSWORD } from "../identity-fixture.js";

function capture(): { stream: Writable; text: () => string } {
  let text = "";
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  return { stream, text: () => text };
}

const PASSWORD = "correct-horse-battery-staple-91";
const TOKEN = "vct_Zm9vYmFyYmF6cXV4cXV1eGNvcmdl_a1b2c3";
const SECRET_VALUE = "sk-live-LOGGED-NEVER-8c2f6e0d4b";

describe("logs", () => {
  const dir = tempDir();
  let services: Services;

  beforeAll(async () => {
    const config = loadConfig({ VECTO_ENV_FILE: "/dev/null", VECTO_DATA_DIR: join(dir.path, "data") }, dir.path);
    await prepareForServe(config, createLogger("silent"));
    services = await openServices(config, createLogger("silent"));
  });
  afterAll(() => {
    services.close();
    dir.cleanup();
  });

  it("never contain a password or token sent in a request, even when the request fails", async () => {
    const out = capture();
    const log = createLogger("trace", out.stream);
    const app = buildApp({ ...servedParts(services), log, bodyLimitBytes: 65536 }, [
      (a) =>
        a.post("/api/test/login", async (c) => {
          await jsonBody(c, z.strictObject({ user: z.string(), password: z.string() }));
          throw new Error("login backend unavailable");
        }),
    ]);
    const headers = {
      Authorization: `Bearer ${TOKEN}`,
      Cookie: `session=${TOKEN}`,
      "Content-Type": "application/json",
    };
    const body = JSON.stringify({ user: "ada", password: PASSWORD });
    const failed = await app.request(`/api/test/login?token=${TOKEN}&password=${PASSWORD}`, {
      method: "POST",
      headers,
      body,
    });
    expect(failed.status).toBe(500);
    const invalid = await app.request(`/api/test/login?access_token=${TOKEN}`, {
      method: "POST",
      headers,
      body: JSON.stringify({ user: "ada", password: PASSWORD, x: 1 }),
    });
    expect(invalid.status).toBe(422);

    const logged = out.text();
    expect(logged).toContain('"path":"/api/test/login"'); // the requests were logged...
    expect(logged).toContain("unhandled error");
    expect(logged).not.toContain(PASSWORD); // ...without their secrets
    expect(logged).not.toContain(TOKEN);
    expect(logged).not.toMatch(/at .*\(.*:\d+:\d+\)/); // and without stack traces
  });

  it("redact secret fields when code logs an object that carries them", () => {
    // The net is a fixed list of top-level names (no wildcards: bench/log.bench.ts); what is
    // nested is kept clean by construction, which the request tests in this file prove.
    const out = capture();
    // The compiler refuses such a line (LogFields); code that gets one past it meets the net.
    const log = createLogger("info", out.stream);
    log.info(
      {
        // @ts-expect-error -- a secret's name is not a log field
        password: PASSWORD,
        token: TOKEN,
        authorization: `Bearer ${TOKEN}`,
        cookie: `session=${TOKEN}`,
        apiKey: TOKEN,
        value: SECRET_VALUE,
        name: "openai",
      },
      "careless",
    );
    const line = JSON.parse(out.text()) as Record<string, string>;
    expect(line.name).toBe("openai");
    for (const field of ["password", "token", "authorization", "cookie", "apiKey", "value"])
      expect(line[field], field).toBe("[REDACTED]");
    expect(out.text()).not.toContain(PASSWORD);
    expect(out.text()).not.toContain(TOKEN);
    expect(out.text()).not.toContain(SECRET_VALUE);
  });

  it("never contain a tenant secret's value: not from creating, rotating, refusing or deleting it", async () => {
    const out = capture();
    const f = await identityFixture({ log: createLogger("trace", out.stream) });
    try {
      const acme = await f.createTenant("logging-acme");
      const token = acme.admin.tokens.accessToken;
      const sent = [
        await f.call("POST", "/api/secrets", { token, body: { name: "openai", value: SECRET_VALUE } }),
        await f.call("POST", "/api/secrets", { token, body: { name: "openai", value: SECRET_VALUE } }), // 409
        await f.call("POST", "/api/secrets", { token, body: { name: "Not Valid", value: SECRET_VALUE } }), // 422
        await f.call("POST", "/api/secrets", {
          token,
          body: { name: "huge", value: `${SECRET_VALUE}${"x".repeat(9000)}` },
        }), // 422
        await f.call("PUT", "/api/secrets/openai", { token, body: { value: `${SECRET_VALUE}-rotated` } }),
        await f.call("PUT", "/api/secrets/missing", { token, body: { value: SECRET_VALUE } }), // 404
        await f.call("GET", "/api/secrets", { token }),
        await f.call("DELETE", "/api/secrets/openai", { token }),
      ];
      expect(sent.map((r) => r.status)).toEqual([201, 409, 422, 422, 200, 404, 200, 204]);
    } finally {
      f.close();
    }
    const logged = out.text();
    expect(logged).toContain('"path":"/api/secrets"'); // the requests were logged...
    expect(logged).toContain("secret.rotated"); // ...and so were their audit events...
    expect(logged).not.toContain(SECRET_VALUE); // ...without the value
  });
});

describe("logs of a credential's whole life", () => {
  it("never contain one: setup token, passwords, access, refresh, personal and reset tokens, Authorization and Cookie headers, used or refused", async () => {
    const out = capture();
    const f = await identityFixture({ log: createLogger("trace", out.stream) });
    const secrets: string[] = [f.setupToken, STRONG_PASSWORD];
    /** A credential and the part of it that is its secret (a prefix like vct_ alone proves nothing). */
    const keep = (credential: string): string => {
      secrets.push(
        credential,
        credential
          .replace(/^v[a-z]t_/, "")
          .split(".")
          .at(-1) ?? credential,
      );
      return credential;
    };
    try {
      const status = async (res: Promise<Response>): Promise<number> => (await res).status;
      // The setup token again, now spent, and a login with a wrong password.
      const refusals = [
        await status(
          f.call("POST", "/api/setup", {
            body: { token: f.setupToken, email: "again@example.test", name: "Again", password: STRONG_PASSWORD },
          }),
        ),
        await status(f.login(undefined, f.root.email, `${STRONG_PASSWORD}-wrong`)),
      ];
      secrets.push(`${STRONG_PASSWORD}-wrong`);
      const acme = await f.createTenant("log-life");
      const admin = acme.admin;
      keep(admin.tokens.accessToken);
      keep(admin.tokens.refreshToken);
      const refreshed = (await (
        await f.call("POST", "/api/auth/refresh", { body: { refreshToken: admin.tokens.refreshToken } })
      ).json()) as { accessToken: string; refreshToken: string };
      keep(refreshed.accessToken);
      keep(refreshed.refreshToken);
      const pat = keep(
        (
          (await (
            await f.call("POST", "/api/tokens", {
              token: refreshed.accessToken,
              body: { name: "script", scopes: ["self"], expiresAt: new Date(Date.now() + 86_400_000).toISOString() },
            })
          ).json()) as { token: string }
        ).token,
      );
      const member = await f.createUser(admin, { role: "member" }, acme.slug);
      keep(member.tokens.accessToken);
      const reset = keep(
        (
          (await (
            await f.call("POST", `/api/users/${member.id}/password-reset`, { token: refreshed.accessToken })
          ).json()) as { token: string }
        ).token,
      );
      const newPassword = "quiet-lantern-harbour-ember-77";
      const changed = "amber-violin-glacier-orchard-58";
      secrets.push(newPassword, changed);
      const uses = [
        // Credentials in the Authorization header, a Cookie and the query string.
        await status(f.call("GET", "/api/me", { token: pat })),
        await status(
          f.call("GET", `/api/me?access_token=${refreshed.accessToken}&token=${pat}`, {
            headers: { Cookie: `session=${refreshed.accessToken}; pat=${pat}` },
            token: refreshed.accessToken,
          }),
        ),
        await status(f.call("GET", "/api/me", { token: `${pat}x` })), // refused
        await status(
          f.call("POST", "/api/me/password", {
            token: refreshed.accessToken,
            body: { currentPassword: STRONG_PASSWORD, newPassword: changed },
          }),
        ),
        await status(f.call("POST", "/api/auth/logout", { token: member.tokens.accessToken })),
        await status(f.call("POST", "/api/auth/password-reset", { body: { token: reset, newPassword: "short" } })), // refused by policy
        await status(f.call("POST", "/api/auth/password-reset", { body: { token: reset, newPassword } })),
        // A spent refresh token replayed: refused, and the whole family revoked.
        await status(f.call("POST", "/api/auth/refresh", { body: { refreshToken: admin.tokens.refreshToken } })),
      ];
      expect({ refusals, uses }).toEqual({ refusals: [409, 401], uses: [200, 200, 401, 200, 204, 422, 204, 401] });
    } finally {
      f.close();
    }
    const logged = out.text();
    // Every step was logged, the refusals and the audit events included...
    for (const path of [
      "/api/setup",
      "/api/auth/login",
      "/api/auth/refresh",
      "/api/tokens",
      "/api/auth/password-reset",
    ])
      expect(logged).toContain(`"path":"${path}"`);
    expect(logged).toContain("auth.refresh_reused");
    expect(logged).toContain("auth.password_reset_completed");
    // ...and not one secret, whole or in part.
    for (const secret of secrets) expect(logged.includes(secret), secret).toBe(false);
  });
});

describe("readiness", () => {
  it("is 503 with the reason when the database is gone", async () => {
    const dir = testDir();
    const config = loadConfig({ VECTO_ENV_FILE: "/dev/null", VECTO_DATA_DIR: join(dir, "data") }, dir);
    await prepareForServe(config, createLogger("silent"));
    const services = await openServices(config, createLogger("silent"));
    const app = buildApp({ ...servedParts(services), log: createLogger("silent"), bodyLimitBytes: 1024 });
    expect((await app.request("/readyz")).status).toBe(200);
    services.close();
    const res = await app.request("/readyz");
    expect(res.status).toBe(503);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    const body = (await res.json()) as { type: string; checks: { database: string; keys: string } };
    expect(body.type).toBe("urn:vecto:problem:not-ready");
    expect(body.checks.keys).toBe("ok");
    expect(body.checks.database).not.toBe("ok");
  });
});

describe("domain log lines", () => {
  it("are written once the change committed, and never for a change that rolled back", async () => {
    const out = capture();
    const f = await identityFixture({ log: createLogger("info", out.stream) });
    try {
      const created = (): number =>
        out
          .text()
          .split("\n")
          .filter((line) => line.includes('"msg":"node.created"')).length;
      const acme = await f.createTenant("log-commit");
      const token = acme.admin.tokens.accessToken;
      const projectId = (
        (await (await f.call("POST", "/api/projects", { token, body: { name: "Logged" } })).json()) as {
          project: { id: string };
        }
      ).project.id;
      expect(
        (
          await f.call("POST", `/api/projects/${projectId}/nodes`, {
            token,
            body: { type: "idea", title: "Committed" },
          })
        ).status,
      ).toBe(201);
      expect(created()).toBe(1);
      const auditSize = f.services.db.auditLog.size(acme.tenantId);
      // The event is recorded inside the transaction, which then fails: row, audit event and log line all go.
      const event = {
        event: "node.created",
        sensitivity: "normal",
        severity: "info",
        tenantId: acme.tenantId,
        actor: { type: "human", id: acme.admin.id },
        payload: { nodeId: "rolled-back" },
      } as const;
      await expect(
        f.services.db.write(() => {
          f.services.identity.events.emit(event);
          throw new Error("the change failed after its event was recorded");
        }),
      ).rejects.toThrow("failed after");
      expect(f.services.db.auditLog.size(acme.tenantId)).toBe(auditSize);
      expect(created()).toBe(1);
      // Outside a transaction an event commits on its own, and is logged right after.
      f.services.identity.events.emit(event);
      expect(created()).toBe(2);
    } finally {
      f.close();
    }
  });
});
