/**
 * Fail closed: when a tenant's data key cannot be unwrapped (its master key is not the one
 * loaded, as after losing an old master key), requests get 503 problem+json and nothing is
 * written; other tenants are unaffected.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { identityFixture, type Fixture, type TenantAccount } from "../identity-fixture.js";

describe("keys unavailable", () => {
  let f: Fixture;
  let stranded: TenantAccount;
  let healthy: TenantAccount;
  let projectId: string;

  beforeAll(async () => {
    f = await identityFixture();
    stranded = await f.createTenant("stranded");
    healthy = await f.createTenant("healthy");
    projectId = ((await (await f.call("POST", "/api/projects", { token: stranded.admin.tokens.accessToken, body: { name: "Before" } })).json()) as { project: { id: string } }).project.id;
    // A newer data key wrapped under a master key this installation does not hold.
    f.services.db.keystore.insertTenantKey({ tenantId: stranded.tenantId, version: 2, wraps: [{ masterLabel: "env:0000000000000000", wrapped: randomBytes(60) }], createdAt: new Date().toISOString() });
    f.services.crypto.forgetTenant(stranded.tenantId);
  });
  afterAll(() => f.close());

  it("answers 503 problem+json and writes nothing", async () => {
    const res = await f.call("POST", `/api/projects/${projectId}/nodes`, { token: stranded.admin.tokens.accessToken, body: { type: "idea", title: "Cannot be stored" } });
    expect(res.status).toBe(503);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(res.headers.get("retry-after")).toBe("30");
    const body = (await res.json()) as { type: string; detail: string };
    expect(body.type).toBe("urn:vecto:problem:keys-unavailable");
    expect(body.detail).not.toMatch(/env:|wrapped/);
    const rows = f.services.db.forTenant({ tenantId: stranded.tenantId } as never).listNodes(projectId, { includeArchived: true, limit: 10 });
    expect(rows).toEqual([]);
  });

  it("leaves other tenants working", async () => {
    const res = await f.call("POST", "/api/projects", { token: healthy.admin.tokens.accessToken, body: { name: "Fine" } });
    expect(res.status).toBe(201);
  });
});
