/** A JSON client for a `vecto serve` child process (startServe in helpers.ts): calls and sign-in over real HTTPS. */
import { expect } from "vitest";
import { httpsRequest } from "./helpers.js";
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
