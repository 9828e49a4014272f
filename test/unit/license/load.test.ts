/**
 * The license in effect is re-verified when it is loaded from the database, not only at upload:
 * someone with write access to the database file who adds a row claiming a higher sequence for an
 * older (more generous) signed license gets the evaluation limits and a warning naming why.
 * Real SQLite file, real Ed25519 vendor key, the real audit trail behind the service's events.
 */
import { createHmac, randomBytes } from "node:crypto";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditEventSink } from "../../../src/audit/events.js";
import { HmacAuditSealer } from "../../../src/audit/seal.js";
import { Database } from "../../../src/db/db.js";
import { LicenseService } from "../../../src/license/license.js";
import { EVALUATION_LIMITS } from "../../../src/license/state.js";
import { tempDir } from "../../helpers.js";
import { testVendor } from "../../license-helpers.js";

describe("the installed license, as loaded", () => {
  const dir = tempDir("vecto-license-load-");
  const file = join(dir.path, "vecto.db");
  const db = Database.open(file);
  const vendor = testVendor();
  const system = { type: "system" as const, id: "test" };
  const service = (): LicenseService =>
    new LicenseService({ db, events: auditEventSink(db), vendorKeys: [vendor.key], now: () => new Date() });
  const generous = vendor.sign({
    licenseId: "LIC-OLD",
    sequence: 1,
    limits: { tenants: 500, users: 5000, agents: 500 },
  });

  beforeAll(async () => {
    const key = randomBytes(32);
    db.setAuditSealer(new HmacAuditSealer({ mac: (data) => createHmac("sha256", key).update(data).digest() }));
    await service().install(generous, system);
    await service().install(
      vendor.sign({ licenseId: "LIC-NEW", sequence: 2, limits: { tenants: 3, users: 10, agents: 1 } }),
      system,
    );
  });
  afterAll(() => {
    db.close();
    dir.cleanup();
  });

  it("is the one with the highest sequence, as signed", () => {
    expect(service().status()).toMatchObject({
      state: "valid",
      license: { licenseId: "LIC-NEW", sequence: 2 },
      limits: { tenants: 3, users: 10, agents: 1 },
    });
  });

  it("refuses an older signed license re-filed under a higher sequence: evaluation limits, and the reason", () => {
    // The insider's move: the table is append-only, so add the old license's text as sequence 3.
    const raw = new BetterSqlite3(file);
    try {
      raw
        .prepare(
          "INSERT INTO licenses (sequence, license_id, kid, text, installed_at, installed_by) VALUES (3, 'LIC-OLD', ?, ?, ?, 'human:insider')",
        )
        .run(vendor.key.kid, generous, new Date().toISOString());
    } finally {
      raw.close();
    }
    const status = service().status();
    expect(status).toMatchObject({
      state: "unlicensed",
      evaluation: true,
      license: null,
      limits: { ...EVALUATION_LIMITS },
    });
    expect(status.warnings[0]).toBe(
      "the installed license LIC-OLD is not in effect: its signed sequence 1 differs from the stored 3",
    );
  });
});
