/**
 * Tenant display names are customer content: sealed with the tenant's data key like project and
 * user names (only the slug stays plain), readable by the platform root through the API, covered
 * by data-key rotation and re-encryption, and sealed at start for rows from before migration 0011.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { fieldKeyVersion } from "../../src/crypto/field-cipher.js";
import { ENCRYPTED_COLUMNS } from "../../src/db/encrypted-columns.js";
import { keyMaintenance } from "../../src/key-admin/maintenance.js";
import { createLogger } from "../../src/log.js";
import { openServices } from "../../src/services.js";
import { identityFixture, STRONG_PASSWORD, type Fixture } from "../identity-fixture.js";

const MARKER = "Zqtenantdisplay Marker-5e21";
const RENAMED = "Zqrenamedtenant Marker-0b7a";
const LEGACY = "Zqlegacyplaintext Marker-c44d";
const TENANTS_COLUMN = ENCRYPTED_COLUMNS.find((c) => c.table === "tenants");

interface TenantBody {
  tenant: { id: string; slug: string; name: string | null };
}

describe("tenant display names", () => {
  let f: Fixture;
  let tenantId: string;
  const dbFile = (): string => join(f.dataDir, "vecto.db");
  const asRoot = (method: string, path: string, body?: unknown): Promise<Response> =>
    f.call(method, path, { token: f.root.tokens.accessToken, ...(body === undefined ? {} : { body }) });
  const nameOf = async (id: string): Promise<string | null> =>
    ((await (await asRoot("GET", `/api/tenants/${id}`)).json()) as TenantBody).tenant.name;
  /** Every file of the data directory that holds `text` in its raw bytes. */
  const filesHolding = (text: string): string[] =>
    readdirSync(f.dataDir, { recursive: true, withFileTypes: true })
      .map((e) => join(e.parentPath, e.name))
      .filter((path) => statSync(path).isFile() && readFileSync(path).includes(Buffer.from(text, "utf8")));

  beforeAll(async () => {
    f = await identityFixture();
    const res = await asRoot("POST", "/api/tenants", {
      slug: "named-tenant",
      name: MARKER,
      admin: { email: "admin@named.example", name: "Named Admin", password: STRONG_PASSWORD },
    });
    expect(res.status).toBe(201);
    const body = (await res.json()) as TenantBody;
    expect(body.tenant).toMatchObject({ slug: "named-tenant", name: MARKER });
    tenantId = body.tenant.id;
  });
  afterAll(() => f.close());

  it("reads back through the API for the platform root, in the list and alone, and after a rename", async () => {
    expect(await nameOf(tenantId)).toBe(MARKER);
    const listed = (await (await asRoot("GET", "/api/tenants")).json()) as { tenants: TenantBody["tenant"][] };
    expect(listed.tenants.find((t) => t.id === tenantId)).toMatchObject({ slug: "named-tenant", name: MARKER });
    const renamed = await asRoot("PATCH", `/api/tenants/${tenantId}`, { name: RENAMED });
    expect(((await renamed.json()) as TenantBody).tenant.name).toBe(RENAMED);
    expect(await nameOf(tenantId)).toBe(RENAMED);
  });

  it("is stored only sealed: neither name is in the database, its WAL or any other file, before or after a checkpoint", () => {
    expect(readdirSync(f.dataDir)).toEqual(expect.arrayContaining(["vecto.db", "vecto.db-wal"]));
    for (const when of ["before", "after"]) {
      if (when === "after") f.services.db.checkpoint();
      expect(filesHolding(MARKER), when).toEqual([]);
      expect(filesHolding(RENAMED), when).toEqual([]);
    }
    // The scan reads real bytes: the slug, which stays plain, is there to be found.
    expect(filesHolding("named-tenant")).toContain(dbFile());
    const raw = new BetterSqlite3(dbFile(), { readonly: true });
    try {
      expect(raw.prepare("SELECT name, typeof(name_enc) AS sealed FROM tenants WHERE id = ?").get(tenantId)).toEqual({
        name: "",
        sealed: "blob",
      });
    } finally {
      raw.close();
    }
  });

  it("is counted by the key status and moved by rotation and re-encryption, and stays readable", async () => {
    expect(TENANTS_COLUMN).toBeDefined();
    const column = TENANTS_COLUMN as NonNullable<typeof TENANTS_COLUMN>;
    expect(
      f.services.db
        .tenantReads(tenantId)
        .sealedFields.notUnder(column, 0xffff_ffff, "", 10)
        .map((r) => r.id),
    ).toEqual([tenantId]);
    expect((await asRoot("POST", `/api/tenants/${tenantId}/keys/rotate`)).status).toBe(200);
    expect(
      f.services.db
        .tenantReads(tenantId)
        .sealedFields.notUnder(column, 2, "", 10)
        .map((r) => r.id),
    ).toEqual([tenantId]);
    await keyMaintenance(f.services.keyAdmin, { maxValues: 1000, retireGraceMs: 0 });
    expect(fieldKeyVersion(f.services.db.tenants.get(tenantId)?.nameEnc ?? new Uint8Array())).toBe(2);
    expect(f.services.db.tenantReads(tenantId).sealedFields.versionCounts().get(1) ?? 0).toBe(0);
    f.services.crypto.forgetTenant(tenantId);
    expect(await nameOf(tenantId)).toBe(RENAMED);
  });

  it("a plaintext name from before migration 0011 is sealed at the next start, in an audited transaction, and leaves no plaintext behind", async () => {
    const raw = new BetterSqlite3(dbFile());
    try {
      raw.prepare("UPDATE tenants SET name = ?, name_enc = NULL WHERE id = ?").run(LEGACY, tenantId);
    } finally {
      raw.close();
    }
    expect(filesHolding(LEGACY).length).toBeGreaterThan(0);
    expect(f.services.db.tenants.plaintextNames()).toEqual([{ id: tenantId, name: LEGACY }]);

    const reopened = await openServices(
      loadConfig({ VECTO_ENV_FILE: "/dev/null", VECTO_DATA_DIR: f.dataDir }, f.dataDir),
      createLogger("silent"),
    );
    try {
      expect(reopened.db.tenants.plaintextNames()).toEqual([]);
      const recorded = reopened.db.auditLog.filtered("_platform", {
        event: "tenant.names_sealed",
        afterSeq: -1,
        limit: 10,
      });
      expect(recorded.map((r) => JSON.parse(r.payload) as unknown)).toEqual([{ tenants: 1 }]);
      // While the service runs on (closing checkpoints anyway): the WAL copy is gone already.
      expect(filesHolding(LEGACY)).toEqual([]);
    } finally {
      reopened.close();
    }
    expect(filesHolding(LEGACY)).toEqual([]);
    expect(await nameOf(tenantId)).toBe(LEGACY);
  });
});
