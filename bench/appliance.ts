/**
 * The appliance as the data-layer benches use it: services opened on a fresh data directory, the
 * platform root set up, tenant "acme" with its admin signed in. One setup, shared by the benches
 * that drive the domain directly (audit, statements, trace); the HTTP benches set up through the API.
 */
import { join } from "node:path";
import type { Principal } from "../src/auth/principal.js";
import { issueSetupToken } from "../src/auth/setup-token.js";
import { loadConfig, type Config } from "../src/config.js";
import { prepareForServe } from "../src/data-dir.js";
import { createLogger } from "../src/log.js";
import { openServices, type Services } from "../src/services.js";

export const PASSWORD = "violet-anchor-quartz-meadow-42";

export interface BenchAppliance {
  readonly config: Config;
  readonly services: Services;
  /** The platform root, signed in. */
  readonly root: Principal;
  /** The admin of tenant "acme", signed in (the principal has its tenant scope), and its access token. */
  readonly admin: Principal;
  readonly adminAccessToken: string;
}

async function signIn(
  services: Services,
  email: string,
  tenant?: string,
): Promise<{ principal: Principal; accessToken: string }> {
  const tokens = await services.identity.sessions.login({
    ...(tenant === undefined ? {} : { tenant }),
    email,
    password: PASSWORD,
    client: "bench",
    address: "127.0.0.1",
  });
  const principal = await services.identity.authenticator.authenticate(tokens.accessToken);
  return { principal, accessToken: tokens.accessToken };
}

/** Opens the services in `dir`/data, sets up the root and tenant "acme"; the caller closes `services`. */
export async function openBenchAppliance(dir: string): Promise<BenchAppliance> {
  const config = loadConfig({ VECTO_ENV_FILE: "/dev/null", VECTO_DATA_DIR: join(dir, "data") }, dir);
  const log = createLogger("silent");
  await prepareForServe(config, log);
  const services = await openServices(config, log);
  const { accounts } = services.identity;
  const { token } = await issueSetupToken(services.db, 600);
  await accounts.completeSetup(token, { email: "root@example.test", name: "Bench Root", password: PASSWORD });
  const { principal: root } = await signIn(services, "root@example.test");
  await accounts.createTenant(root, {
    slug: "acme",
    name: "Acme",
    admin: { email: "admin@acme.test", name: "Acme Admin", password: PASSWORD },
  });
  const { principal: admin, accessToken } = await signIn(services, "admin@acme.test", "acme");
  if (!admin.tenantScope) throw new Error("the tenant admin has no tenant scope");
  return { config, services, root, admin, adminAccessToken: accessToken };
}
