/** Key status tells an operator what protects the data, and never any key material. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { identityFixture, type Fixture, type TenantAccount } from "../identity-fixture.js";

describe("key status", () => {
  let f: Fixture;
  let acme: TenantAccount;

  beforeAll(async () => {
    f = await identityFixture();
    acme = await f.createTenant("keys-acme");
  });
  afterAll(() => f.close());

  it("shows the resolver, the master key label and each tenant's key versions to the platform root", async () => {
    const res = await f.call("GET", "/api/keys/status", { token: f.root.tokens.accessToken });
    expect(res.status).toBe(200);
    const text = await res.text();
    const status = JSON.parse(text) as { resolver: { kind: string; masterLabel: string }; wrappedUnderOtherMasterKeys: number; tenants: { tenantId: string; versions: { version: number; status: string; masterLabel: string }[] }[] };
    expect(status.resolver).toMatchObject({ kind: "env", masterLabel: f.services.resolver.describe().masterLabel });
    expect(status.wrappedUnderOtherMasterKeys).toBe(0);
    expect(status.tenants.find((t) => t.tenantId === acme.tenantId)?.versions).toEqual([expect.objectContaining({ version: 1, status: "active", masterLabel: status.resolver.masterLabel })]);
    for (const key of f.services.db.keystore.listTenantKeys(acme.tenantId)) {
      expect(text).not.toContain(Buffer.from(key.wrapped).toString("base64"));
      expect(text).not.toContain(Buffer.from(key.wrapped).toString("hex"));
    }
  });

  it("is the platform root's only", async () => {
    expect((await f.call("GET", "/api/keys/status", { token: acme.admin.tokens.accessToken })).status).toBe(403);
  });
});
