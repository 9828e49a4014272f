/**
 * Read auditing decides from the route's spec (src/audit/read-audit.ts), so every GET that needs a
 * credential must say what it reads: "sensitive" or "content". A GET added without it would be a
 * read no tenant setting could ever record. The specs are the real app's (its route registry).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registryOf, type RouteSpec } from "../../src/server/route.js";
import { identityFixture, type Fixture } from "../identity-fixture.js";

/** Credentialed GET routes that do not declare what they read. */
function undeclared(specs: readonly Pick<RouteSpec, "method" | "path" | "scopes" | "reads">[]): string[] {
  return specs
    .filter((s) => s.method === "get" && s.scopes !== "public" && s.reads === undefined)
    .map((s) => `GET ${s.path}`);
}

/** Routes the sensitive level records: exports, audit-log reads, secret metadata, key views, what was sent to a language model. */
const SENSITIVE = [
  "/api/audit",
  "/api/audit/verify",
  "/api/audit/checkpoints",
  "/api/audit/proofs/inclusion",
  "/api/audit/proofs/consistency",
  "/api/secrets",
  "/api/tenants/:tenantId/export",
  "/api/usage/report",
  "/api/keys/status",
  "/api/ai/calls/:callId",
];

describe("every credentialed read declares what it reads", () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await identityFixture();
  });
  afterAll(() => f.close());

  it("holds for the app's routes, and the sensitive ones are exactly the documented list", () => {
    const specs = registryOf(f.app)?.specs ?? [];
    expect(specs.filter((s) => s.method === "get").length).toBeGreaterThan(25);
    expect(undeclared(specs)).toEqual([]);
    expect(
      specs
        .filter((s) => s.reads === "sensitive")
        .map((s) => s.path)
        .sort(),
    ).toEqual([...SENSITIVE].sort());
  });

  it("flags a credentialed GET without `reads`, and not a public one or a write", () => {
    const scopes = ["graph:read"] as const;
    expect(undeclared([{ method: "get", path: "/api/x", scopes }])).toEqual(["GET /api/x"]);
    expect(
      undeclared([
        { method: "get", path: "/healthz", scopes: "public" },
        { method: "post", path: "/api/x", scopes },
        { method: "get", path: "/api/y", scopes, reads: "content" },
      ]),
    ).toEqual([]);
  });
});
