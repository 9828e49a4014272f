/**
 * The operator's rotation commands, run from the built bundle against a real data directory:
 * rotate-tenant, reencrypt, rotate-master, retire-master, status; and their one-line failures.
 */
import { cpSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CryptoService } from "../../src/crypto/crypto-service.js";
import { EnvKeyResolver } from "../../src/crypto/resolvers/env.js";
import { Database } from "../../src/db/db.js";
import { ENCRYPTED_COLUMNS } from "../../src/db/encrypted-columns.js";
import type { KeyStatus } from "../../src/key-admin/status.js";
import { runCli, tempDir } from "../helpers.js";
import { identityFixture, type Fixture, type TenantAccount } from "../identity-fixture.js";

describe("vecto keys rotate-* / reencrypt / retire-master", () => {
  let f: Fixture;
  let acme: TenantAccount;
  let env: Record<string, string>;
  let cwd: string;
  let dataDir: string;
  const own = tempDir();
  const newKey = () => join(dataDir, "master-2.key");

  beforeAll(async () => {
    f = await identityFixture();
    acme = await f.createTenant("cli-keys");
    const pid = (
      (await (
        await f.call("POST", "/api/projects", { token: acme.admin.tokens.accessToken, body: { name: "Orion" } })
      ).json()) as { project: { id: string } }
    ).project.id;
    for (let i = 0; i < 5; i++)
      await f.call("POST", `/api/projects/${pid}/nodes`, {
        token: acme.admin.tokens.accessToken,
        body: { type: "task", title: `Task ${i}`, body: "b" },
      });
    // Sealed values: the tenant's name, its admin's email and name, the project's name, 5 nodes' titles and bodies = 14.
    // The fixture removes its directory on close: work on a copy of the closed data directory.
    f.services.close();
    cwd = own.path;
    dataDir = join(own.path, "data");
    cpSync(f.dataDir, dataDir, { recursive: true });
    f.close();
    env = { VECTO_DATA_DIR: dataDir, VECTO_LOG_LEVEL: "silent" };
  });
  afterAll(() => own.cleanup());

  const status = (extra: Record<string, string> = {}): KeyStatus =>
    JSON.parse(runCli(["keys", "status", "--json"], { cwd, env: { ...env, ...extra } }).stdout) as KeyStatus;

  it("refuses bad invocations with one line and exit 1", () => {
    for (const args of [
      ["keys", "rotate-master"],
      ["keys", "rotate-master", "--new-key-file", "a", "--new-key-label", "b"],
      ["keys", "rotate-tenant"],
      ["keys", "retire-master", "env:0000000000000000"],
      ["keys", "rotate-tenant", "no-such-tenant"],
    ]) {
      const r = runCli(args, { cwd, env });
      expect(r.status, args.join(" ")).toBe(1);
      expect(r.stderr.split("\n").filter(Boolean), args.join(" ")).toHaveLength(1);
      expect(r.stderr).toMatch(/^vecto: /);
    }
  });

  it("rotate-tenant --all, then reencrypt moves every value and retires the old version", () => {
    const rotated = runCli(["keys", "rotate-tenant", "--all", "--json"], { cwd, env });
    expect(rotated.status).toBe(0);
    expect(JSON.parse(rotated.stdout)).toContainEqual({ tenantId: acme.tenantId, version: 2 });
    expect(status().tenants.find((t) => t.tenantId === acme.tenantId)?.reencryptionRemaining).toBe(14);

    const re = runCli(["keys", "reencrypt", "--tenant", acme.tenantId, "--retire-unused-now", "--json"], { cwd, env });
    expect(re.status).toBe(0);
    expect(JSON.parse(re.stdout)).toEqual([
      { tenantId: acme.tenantId, writeVersion: 2, rewritten: 14, remaining: 0, retiredVersions: [1] },
    ]);
    const text = runCli(["keys", "status"], { cwd, env }).stdout;
    expect(text).toContain(`${acme.tenantId}: v1 retired (0 values`);
    expect(text).toMatch(/v2 active \(14 values, \d+ encryptions\)/);
  });

  it("rotate-master prints the next configuration; retire-master then removes the old key's wraps", () => {
    const oldLabel = status().resolver.masterLabel;
    const r = runCli(["keys", "rotate-master", "--new-key-file", newKey(), "--json"], { cwd, env });
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as {
      masterLabel: string;
      masterVersion: number;
      previousLabel: string;
      nextConfig: string[];
    };
    expect(out).toMatchObject({ masterVersion: 2, previousLabel: oldLabel });
    expect(out.nextConfig).toEqual([
      "VECTO_KEY_RESOLVER=env",
      `VECTO_MASTER_KEY_FILE=${newKey()}`,
      `VECTO_PREVIOUS_MASTER_KEYS=file:${join(dataDir, "master.key")}`,
    ]);

    const next = { VECTO_MASTER_KEY_FILE: newKey(), VECTO_PREVIOUS_MASTER_KEYS: `file:${join(dataDir, "master.key")}` };
    const before = status(next);
    expect(before.masterKeys.map((m) => [m.version, m.current, m.loaded, m.retiredAt === null])).toEqual([
      [1, false, true, true],
      [2, true, true, true],
    ]);
    const retired = runCli(["keys", "retire-master", oldLabel], { cwd, env: { ...env, ...next } });
    expect(retired.status).toBe(0);
    expect(retired.stdout).toContain(`master key ${oldLabel} retired`);
    // The old configuration cannot start a data key any more; the new key alone reads it all.
    expect(runCli(["keys", "status", "--json"], { cwd, env: { ...env, VECTO_MASTER_KEY_FILE: newKey() } }).status).toBe(
      0,
    );
  });

  it("after all that, the newest master key alone opens every sealed value", async () => {
    const db = Database.open(join(dataDir, "vecto.db"));
    try {
      const crypto = new CryptoService(await EnvKeyResolver.fromFile(newKey()), db.keystore);
      let opened = 0;
      for (const column of ENCRYPTED_COLUMNS) {
        for (const row of db.tenantReads(acme.tenantId).sealedFields.notUnder(column, 0xffff_ffff, "", 10_000)) {
          expect(
            await crypto.decryptField(
              acme.tenantId,
              { table: column.table, column: column.fieldColumn, rowId: row.id },
              row.sealed,
            ),
          ).toEqual(expect.any(String));
          opened++;
        }
      }
      expect(opened).toBe(14);
    } finally {
      db.close();
    }
  });
});
