/**
 * The real server of bench/http.bench.ts: `vecto serve` (the built bundle) as its own process on a
 * fresh data directory, set up through its API as the tests do it (test/serve-client.ts):
 * `vecto init`, the one-time setup token, the platform root, tenant "acme" with its admin, a
 * project, the admin's session access token (login) and a personal access token, a second person
 * whose logins make the storm, and nodes to read.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { client, expectJson, type Call } from "./client.js";
import { cleanEnv, freePort, spawnServer, whenReady, type Server } from "./processes.js";

const PASSWORD = "violet-anchor-quartz-meadow-42";
const ADMIN = "admin@acme.test";
const STORM = "storm@acme.test";
/** Requests per minute that no run here reaches: the rate limiter does all its work and refuses nothing. */
const NEVER_REFUSED = "1000000000";
/** Nodes the reads go round (each read is of another row than the last, as for real clients). */
export const SEED_NODES = 200;
/** About the size of a short note; the bare baseline gets the same bytes. */
export const NODE_BODY =
  "Measured side by side on the same machine: the authenticated, encrypted, audited create against a bare " +
  "insert with the same TLS, pragmas and transaction shape. This paragraph only gives the node a body of the " +
  "size a short note has, so that encryption and the answer have something to carry.";

interface Provisioned {
  readonly jwt: string;
  readonly pat: string;
  readonly projectId: string;
  /** The JSON body of the storm's login (another person of the same tenant). */
  readonly stormLogin: string;
}

export interface Appliance extends Provisioned {
  readonly server: Server;
  /** The environment and working directory it runs with (the start-up runs reuse both). */
  readonly env: Record<string, string>;
  readonly cwd: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly nodeIds: readonly string[];
  /** Sizes of one create's and one read's JSON answer, in bytes. */
  readonly answerBytes: { readonly create: number; readonly read: number };
}

/** `vecto <args>` once, to completion; its stdout. */
function cli(command: readonly string[], args: readonly string[], cwd: string, env: Record<string, string>): string {
  const [file = "", ...prefix] = command;
  const result = spawnSync(file, [...prefix, ...args], { cwd, env, encoding: "utf8", timeout: 60_000 });
  if (result.status !== 0) throw new Error(`vecto ${args.join(" ")}: ${result.status} ${result.stderr}`);
  return result.stdout;
}

async function login(call: Call, tenant: string | undefined, email: string): Promise<string> {
  const body = { ...(tenant !== undefined ? { tenant } : {}), email, password: PASSWORD };
  return (await expectJson<{ accessToken: string }>(call("POST", "/api/auth/login", { body }), 200, `login ${email}`))
    .accessToken;
}

/** Setup, tenant, project, people and tokens: what a first day on the appliance makes. */
async function provision(call: Call, setupToken: string): Promise<Provisioned> {
  const root = { token: setupToken, email: "root@example.test", name: "Root", password: PASSWORD };
  await expectJson(call("POST", "/api/setup", { body: root }), 201, "setup");
  const rootJwt = await login(call, undefined, root.email);
  const admin = { email: ADMIN, name: "Admin", password: PASSWORD };
  const tenant = { slug: "acme", name: "Acme", admin };
  await expectJson(call("POST", "/api/tenants", { token: rootJwt, body: tenant }), 201, "create tenant");
  const jwt = await login(call, "acme", ADMIN);
  const { project } = await expectJson<{ project: { id: string } }>(
    call("POST", "/api/projects", { token: jwt, body: { name: "Bench" } }),
    201,
    "create project",
  );
  const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
  const patBody = { name: "bench", scopes: ["graph:read", "graph:write"], expiresAt };
  const { token: pat } = await expectJson<{ token: string }>(
    call("POST", "/api/tokens", { token: jwt, body: patBody }),
    201,
    "create personal access token",
  );
  const storm = { email: STORM, name: "Storm", role: "member", password: PASSWORD };
  await expectJson(call("POST", "/api/users", { token: jwt, body: storm }), 201, "create storm user");
  const stormLogin = JSON.stringify({ tenant: "acme", email: STORM, password: PASSWORD });
  return { jwt, pat, projectId: project.id, stormLogin };
}

/** Creates `count` nodes, eight at a time; their ids and the size of one create's answer. */
export async function seedNodes(
  call: Call,
  path: string,
  token: string | undefined,
  count: number,
): Promise<{ ids: string[]; createBytes: number }> {
  const ids: string[] = [];
  let createBytes = 0;
  for (let i = 0; i < count; i += 8) {
    const batch = Array.from({ length: Math.min(8, count - i) }, (_, j) =>
      call("POST", path, {
        ...(token !== undefined ? { token } : {}),
        body: { type: "note", title: `Seed note ${i + j}`, body: NODE_BODY },
      }),
    );
    for (const res of await Promise.all(batch)) {
      if (res.status !== 201) throw new Error(`seed node: ${res.status} ${res.body.slice(0, 300)}`);
      ids.push((JSON.parse(res.body) as { node: { id: string } }).node.id);
      createBytes = Buffer.byteLength(res.body);
    }
  }
  return { ids, createBytes };
}

/**
 * Starts `command serve` (command: how to exec the appliance, e.g. [node, dist/vecto.cjs]) on a new
 * data directory under `dir`, with `extraEnv` on top of the bench's settings, and provisions it.
 */
export async function startAppliance(
  command: readonly string[],
  dir: string,
  extraEnv: Readonly<Record<string, string>> = {},
): Promise<Appliance> {
  mkdirSync(dir, { recursive: true });
  const data = join(dir, "data");
  const port = await freePort();
  const env = cleanEnv({
    VECTO_ENV_FILE: "/dev/null",
    VECTO_DATA_DIR: data,
    VECTO_LISTEN: `127.0.0.1:${port}`,
    VECTO_RATE_LIMIT_PER_CREDENTIAL: NEVER_REFUSED,
    VECTO_RATE_LIMIT_PER_ADDRESS: NEVER_REFUSED,
    ...extraEnv,
  });
  cli(command, ["init"], dir, env);
  const { token } = JSON.parse(cli(command, ["setup-token", "--json"], dir, env)) as { token: string };
  const [file = "", ...prefix] = command;
  const server = spawnServer(file, [...prefix, "serve"], { cwd: dir, env, port, logFile: join(dir, "serve.log") });
  try {
    await whenReady(server, "/readyz");
    const call = client(port);
    const provisioned = await provision(call, token);
    const seeded = await seedNodes(call, `/api/projects/${provisioned.projectId}/nodes`, provisioned.jwt, SEED_NODES);
    const read = await call("GET", `/api/nodes/${seeded.ids[0] ?? ""}`, { token: provisioned.jwt });
    if (read.status !== 200) throw new Error(`read node: ${read.status} ${read.body.slice(0, 300)}`);
    return {
      ...provisioned,
      server,
      env,
      cwd: dir,
      certFile: join(data, "tls", "cert.pem"),
      keyFile: join(data, "tls", "key.pem"),
      nodeIds: seeded.ids,
      answerBytes: { create: seeded.createBytes, read: Buffer.byteLength(read.body) },
    };
  } catch (error) {
    await server.stop();
    throw error;
  }
}
