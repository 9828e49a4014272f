/** POST /api/setup before the platform root exists: only the valid, unexpired, unspent token does anything. */
import { setTimeout as sleep } from "node:timers/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { issueSetupToken } from "../../../src/auth/setup-token.js";
import { loadConfig } from "../../../src/config.js";
import { prepareForServe } from "../../../src/data-dir.js";
import { createLogger } from "../../../src/log.js";
import { buildApp } from "../../../src/server/app.js";
import { servedParts } from "../../../src/server/deps.js";
import { openServices, type Services } from "../../../src/services.js";
import { tempDir } from "../../helpers.js";
import { STRONG_PASSWORD } from "../../identity-fixture.js";

describe("first-run setup", () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => cleanups.splice(0).forEach((fn) => fn()));

  async function fresh(): Promise<{ services: Services; setup: (token: string) => Promise<Response> }> {
    const dir = tempDir();
    const config = loadConfig({ VECTO_ENV_FILE: "/dev/null", VECTO_DATA_DIR: join(dir.path, "data") }, dir.path);
    const log = createLogger("silent");
    await prepareForServe(config, log);
    const services = await openServices(config, log);
    cleanups.push(() => {
      services.close();
      dir.cleanup();
    });
    const app = buildApp({ ...servedParts(services), log, bodyLimitBytes: config.bodyLimitBytes });
    const setup = async (token: string): Promise<Response> =>
      app.request("/api/setup", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ token, email: "root@example.test", name: "Root", password: STRONG_PASSWORD }),
      });
    return { services, setup };
  }

  function keyRows(services: Services): number {
    return services.db.keystore.listTenantKeys("_platform").length + (services.db.tenants.platformTenant() ? 1 : 0);
  }

  it("a wrong token does no work and leaves nothing behind", async () => {
    const { services, setup } = await fresh();
    await issueSetupToken(services.db, 600);
    const before = keyRows(services);
    for (let i = 0; i < 3; i++) {
      const res = await setup(`vst_wrong-guess-${i}`);
      expect(res.status).toBe(401);
      expect(((await res.json()) as { type: string }).type).toBe("urn:vecto:problem:unauthorized");
    }
    expect(keyRows(services)).toBe(before);
    expect(services.db.tenants.platformTenant()).toBeUndefined();
  });

  it("the right token works once; it cannot be replayed", async () => {
    const { services, setup } = await fresh();
    const { token } = await issueSetupToken(services.db, 600);
    expect((await setup(token)).status).toBe(201);
    expect((await setup(token)).status).toBe(409);
  });

  it("an expired or superseded token is refused", async () => {
    const { services, setup } = await fresh();
    const short = await issueSetupToken(services.db, 1);
    await sleep(1100);
    expect((await setup(short.token)).status).toBe(401);
    const first = await issueSetupToken(services.db, 600);
    const second = await issueSetupToken(services.db, 600);
    expect((await setup(first.token)).status).toBe(401);
    expect((await setup(second.token)).status).toBe(201);
  });
});
