/** Key status tells an operator what protects the data, and never any key material. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KeyStatus } from "../../src/key-admin/status.js";
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
    const status = JSON.parse(text) as KeyStatus;
    const label = f.services.resolver.describe().masterLabel;
    expect(status.resolver).toMatchObject({ kind: "env", masterLabel: label });
    expect(status.masterVersion).toBe(1);
    expect(status.masterKeys).toEqual([
      expect.objectContaining({ label, version: 1, kind: "env", current: true, loaded: true, retiredAt: null }),
    ]);
    expect(status.wrappedUnderOtherMasterKeys).toBe(0);
    const tenant = status.tenants.find((t) => t.tenantId === acme.tenantId);
    // The tenant's name and the first admin's email and name are the tenant's three sealed values so far.
    expect(tenant).toMatchObject({ writeVersion: 1, reencryptionRemaining: 0 });
    expect(tenant?.versions).toEqual([
      expect.objectContaining({ version: 1, status: "active", masterLabels: [label], values: 3 }),
    ]);
    expect(tenant?.versions[0]?.encryptions).toBeGreaterThanOrEqual(3);
    for (const { wrapped } of f.services.db.keystore.listTenantKeys(acme.tenantId).flatMap((k) => k.wraps)) {
      expect(text).not.toContain(Buffer.from(wrapped).toString("base64"));
      expect(text).not.toContain(Buffer.from(wrapped).toString("hex"));
    }
  });

  it("is the platform root's only", async () => {
    expect((await f.call("GET", "/api/keys/status", { token: acme.admin.tokens.accessToken })).status).toBe(403);
  });
});
