/**
 * A previous master key keeps unwrapping (DESIGN.md: old master labels stay usable for unwrapping
 * until retired). The appliance is configured with a new master key and the old one in
 * VECTO_PREVIOUS_MASTER_KEYS, before anything is re-wrapped: every data key, and a full backup
 * made before the change, are wrapped under the old key ONLY, and must still open. With the new
 * key alone they do not, so it is the previous key that opens them.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createFullBackup } from "../../src/backup/create.js";
import { verifyBackup } from "../../src/backup/verify.js";
import { loadConfig } from "../../src/config.js";
import { CryptoService } from "../../src/crypto/crypto-service.js";
import type { MasterKeyRing } from "../../src/crypto/master-key-ring.js";
import { generateMasterKeyFile } from "../../src/crypto/resolvers/env.js";
import { Database, keystorePath } from "../../src/db/db.js";
import { ENCRYPTED_COLUMNS } from "../../src/db/encrypted-columns.js";
import { openKeyResolver } from "../../src/services.js";
import { tempDir } from "../helpers.js";
import { identityFixture, type Fixture } from "../identity-fixture.js";

/** Opens every sealed value of every key owner with `crypto`; returns how many. */
async function openAll(db: Database, crypto: CryptoService): Promise<number> {
  let opened = 0;
  for (const tenantId of db.keystore.keyOwners().filter((o) => !o.startsWith("_"))) {
    for (const column of ENCRYPTED_COLUMNS) {
      for (const row of db.tenantReads(tenantId).sealedFields.notUnder(column, 0xffff_ffff, "", 1_000_000)) {
        await crypto.decryptField(
          tenantId,
          { table: column.table, column: column.fieldColumn, rowId: row.id },
          row.sealed,
        );
        opened++;
      }
    }
  }
  return opened;
}

describe("a previous master key, configured beside a new one", () => {
  let f: Fixture;
  const scratch = tempDir("vecto-previous-master-");
  let oldKey: string;
  let oldLabel: string;
  let newKey: string;
  let backup: string;
  /** The appliance's pieces as openServices wires them, from the configuration with both keys. */
  let rotated: { db: Database; resolver: MasterKeyRing; crypto: CryptoService; close: () => void };

  const config = (env: Record<string, string>) =>
    loadConfig({ VECTO_ENV_FILE: "/dev/null", VECTO_DATA_DIR: f.dataDir, ...env }, scratch.path);

  beforeAll(async () => {
    f = await identityFixture();
    const acme = await f.createTenant("prev-master");
    const token = acme.admin.tokens.accessToken;
    const project = (
      (await (await f.call("POST", "/api/projects", { token, body: { name: "Sealed" } })).json()) as {
        project: { id: string };
      }
    ).project.id;
    await f.call("POST", `/api/projects/${project}/nodes`, {
      token,
      body: { type: "idea", title: "Under the old key", body: "only" },
    });
    oldKey = join(f.dataDir, "master.key");
    oldLabel = f.services.resolver.currentLabel;
    f.services.close();

    backup = join(scratch.path, "before.vbak");
    const before = config({});
    await createFullBackup(
      { dataDir: f.dataDir, databaseFile: before.databaseFile, keystoreFile: keystorePath(before.databaseFile) },
      await openKeyResolver(before),
      { out: backup },
    );

    newKey = join(scratch.path, "master-new.key");
    await generateMasterKeyFile(newKey);
    const both = config({ VECTO_MASTER_KEY_FILE: newKey, VECTO_PREVIOUS_MASTER_KEYS: `file:${oldKey}` });
    const resolver = await openKeyResolver(both);
    const db = Database.open(both.databaseFile);
    rotated = { db, resolver, crypto: new CryptoService(resolver, db.keystore), close: () => db.close() };
  });
  afterAll(() => {
    rotated.close();
    f.close();
    scratch.cleanup();
  });

  it("is loaded for unwrapping while the new key is current; the data keys are wrapped under the old key only", () => {
    expect(rotated.resolver.currentLabel).not.toBe(oldLabel);
    expect(rotated.resolver.labels()).toEqual([rotated.resolver.currentLabel, oldLabel]);
    const wraps = rotated.db.keystore
      .keyOwners()
      .flatMap((o) => rotated.db.keystore.listTenantKeys(o))
      .map((k) => k.wraps.map((w) => w.masterLabel));
    expect(wraps.length).toBeGreaterThan(1);
    for (const labels of wraps) expect(labels).toEqual([oldLabel]);
  });

  it("opens every data key wrapped only under it: every sealed value reads", async () => {
    expect(await openAll(rotated.db, rotated.crypto)).toBeGreaterThan(4);
  });

  it("opens a full backup wrapped only under it; the new key alone cannot", async () => {
    const out = join(scratch.path, "verified");
    mkdirSync(out);
    const report = await verifyBackup(backup, { resolver: rotated.resolver }, out);
    expect(report).toMatchObject({ ok: true, kind: "full", keyOwner: oldLabel });
    const alone = await openKeyResolver(config({ VECTO_MASTER_KEY_FILE: newKey }));
    const again = join(scratch.path, "refused");
    mkdirSync(again);
    await expect(verifyBackup(backup, { resolver: alone }, again)).rejects.toThrow(
      `this backup is encrypted under master key ${oldLabel}, but the loaded master key is ${alone.currentLabel}`,
    );
  });
});
