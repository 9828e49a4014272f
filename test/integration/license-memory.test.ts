/**
 * The license gate on every change answers from memory (src/license/license.ts) and still follows
 * the clock at every call and every installed license at once: one installed by another process
 * (`vecto license install` while the server runs: a connection of its own) is in effect for the
 * very next request. In-process app, real SQLite files, real Ed25519 keys, a movable clock.
 */
import { dirname } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { createLogger } from "../../src/log.js";
import { openServices } from "../../src/services.js";
import { identityFixture, STRONG_PASSWORD, type Fixture, type TenantAccount } from "../identity-fixture.js";
import { testVendor } from "../license-helpers.js";

const DAY = 86_400_000;

describe("the license gate from memory", () => {
  let clock = new Date();
  const now = (): Date => clock;
  const vendor = testVendor(now);
  let f: Fixture;
  let acme: TenantAccount;
  let admin = "";
  let projects = 0;

  const createProject = async (): Promise<number> =>
    (await f.call("POST", "/api/projects", { token: admin, body: { name: `Project ${++projects}` } })).status;

  beforeAll(async () => {
    f = await identityFixture({ vendorKeys: [vendor.key], now });
    acme = await f.createTenant("memory-acme");
    admin = acme.admin.tokens.accessToken;
  });
  afterAll(() => f.close());

  it("follows the clock into read-only without a restart, and a license another process installs at the next request", async () => {
    const installed = await f.call("PUT", "/api/license", {
      token: f.root.tokens.accessToken,
      body: { license: vendor.sign({ licenseId: "LIC-M1", sequence: 1, graceDays: 30 }) },
    });
    expect(installed.status).toBe(200);
    expect(await createProject()).toBe(201);
    expect(await createProject()).toBe(201);

    // Past expiry and grace: the same memory, a later clock.
    clock = new Date(clock.getTime() + 400 * DAY);
    const signedIn = await f.login(acme.slug, acme.admin.email, STRONG_PASSWORD);
    admin = ((await signedIn.json()) as { accessToken: string }).accessToken;
    expect(await createProject()).toBe(402);
    expect(await createProject()).toBe(402);

    // `vecto license install` while the server runs: the installation's services over their own connection.
    const config = loadConfig({ VECTO_ENV_FILE: "/dev/null", VECTO_DATA_DIR: f.dataDir }, dirname(f.dataDir));
    const cli = await openServices(config, createLogger("silent"), { vendorKeys: [vendor.key], now });
    try {
      await cli.license.install(vendor.sign({ licenseId: "LIC-M2", sequence: 2 }), { type: "system", id: "test-cli" });
    } finally {
      cli.close();
    }
    expect(await createProject()).toBe(201);
    expect(f.services.license.payload()?.licenseId).toBe("LIC-M2");
  });
});
