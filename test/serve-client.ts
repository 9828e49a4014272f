/** A JSON client for a `vecto serve` child process (startServe in helpers.ts): calls and sign-in over real HTTPS. */
import { expect } from "vitest";
import { freePort, httpsRequest, startServe } from "./helpers.js";
import { STRONG_PASSWORD } from "./identity-fixture.js";

export type Call = (
  method: string,
  path: string,
  options?: { token?: string; body?: unknown },
) => Promise<{ status: number; body: string }>;

export function serveClient(port: number): Call {
  return (method, path, options = {}) => {
    const headers: Record<string, string> = {};
    if (options.token !== undefined) headers.Authorization = `Bearer ${options.token}`;
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    return httpsRequest(port, path, {
      method,
      headers,
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    });
  };
}

/** Signs in with STRONG_PASSWORD (tenant slug, or undefined for the platform root); returns the access token. */
export async function loginToken(call: Call, tenant: string | undefined, email: string): Promise<string> {
  const res = await call("POST", "/api/auth/login", {
    body: { ...(tenant !== undefined ? { tenant } : {}), email, password: STRONG_PASSWORD },
  });
  expect(res.status).toBe(200);
  return (JSON.parse(res.body) as { accessToken: string }).accessToken;
}

/** Completes setup with the one-time token (root@example.test) and returns the platform root's access token. */
export async function setupRoot(call: Call, setupToken: string): Promise<string> {
  const body = { token: setupToken, email: "root@example.test", name: "Root", password: STRONG_PASSWORD };
  expect((await call("POST", "/api/setup", { body })).status).toBe(201);
  return loginToken(call, undefined, "root@example.test");
}

/** Creates tenant "acme" with its admin (admin@acme.test) as the platform root; returns the tenant's id. */
export async function createAcme(call: Call, root: string): Promise<string> {
  const admin = { email: "admin@acme.test", name: "Admin", password: STRONG_PASSWORD };
  const res = await call("POST", "/api/tenants", { token: root, body: { slug: "acme", name: "Acme", admin } });
  expect(res.status).toBe(201);
  return (JSON.parse(res.body) as { tenant: { id: string } }).tenant.id;
}

export interface ServedAcme {
  readonly port: number;
  readonly server: Awaited<ReturnType<typeof startServe>>;
  readonly call: Call;
  /** The access token of acme's admin, signed in. */
  readonly admin: string;
}

/**
 * `vecto serve` on a fresh data directory under `dir`, on a free port, with `env` on top (no
 * scheduled backups), set up through its API: the platform root, tenant "acme", its admin signed in.
 * The caller stops `server`.
 */
export async function serveAcme(dir: string, env: Record<string, string> = {}): Promise<ServedAcme> {
  const port = await freePort();
  const server = await startServe(
    dir,
    { VECTO_DATA_DIR: `${dir}/data`, VECTO_BACKUP_SCHEDULE: "off", VECTO_LISTEN: `127.0.0.1:${port}`, ...env },
    ["--setup-token"],
  );
  const setupToken = /vst_[A-Za-z0-9_-]{43}/.exec(server.stderr())?.[0] ?? "";
  const call = serveClient(port);
  await createAcme(call, await setupRoot(call, setupToken));
  return { port, server, call, admin: await loginToken(call, "acme", "admin@acme.test") };
}
