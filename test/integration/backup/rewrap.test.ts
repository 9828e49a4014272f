/**
 * Backups and master-key retirement: a full backup's file key is wrapped under one master key, so
 * retiring that key (and destroying it) would strand the backup. `vecto keys retire-master`
 * refuses while the backup directory holds such a backup; `vecto backup rewrap` moves it to the
 * current key; after that the old key can go and the backup still verifies and restores.
 */
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readBackupHeader } from "../../../src/backup/verify.js";
import { runCli, tempDir } from "../../helpers.js";
import { identityFixture, type Fixture } from "../../identity-fixture.js";
import { failureLine, hashTree, populate } from "./backup-helpers.js";

describe("backup rewrap and master-key retirement", () => {
  let f: Fixture;
  const scratch = tempDir("vecto-rewrap-");
  const backups = join(scratch.path, "backups");
  const newKey = join(scratch.path, "master-2.key");
  let oldKey = "";
  let oldLabel = "";
  let newLabel = "";
  let backup = "";
  let tenantBackup = "";
  let base: Record<string, string> = {};
  const rotated = (): Record<string, string> => ({
    ...base,
    VECTO_MASTER_KEY_FILE: newKey,
    VECTO_PREVIOUS_MASTER_KEYS: `file:${oldKey}`,
  });
  const cli = (args: string[], env: Record<string, string>): ReturnType<typeof runCli> =>
    runCli(args, { cwd: scratch.path, env });

  beforeAll(async () => {
    mkdirSync(backups, { mode: 0o700 });
    f = await identityFixture();
    const data = await populate(f, "rw");
    f.services.close();
    oldKey = join(f.dataDir, "master.key");
    base = { VECTO_DATA_DIR: f.dataDir, VECTO_BACKUP_DIR: backups, VECTO_LOG_LEVEL: "warn" };
    const made = cli(["backup", "create", "--json"], base);
    expect(made.status, made.stderr).toBe(0);
    backup = (JSON.parse(made.stdout) as { file: string }).file;
    const tenant = cli(["backup", "create", "--tenant", data.acme.slug, "--json"], base);
    expect(tenant.status, tenant.stderr).toBe(0);
    tenantBackup = (JSON.parse(tenant.stdout) as { file: string }).file;
    oldLabel = (JSON.parse(made.stdout) as { keyOwner: string }).keyOwner;
    const rotation = cli(["keys", "rotate-master", "--new-key-file", newKey, "--json"], base);
    expect(rotation.status, rotation.stderr).toBe(0);
    newLabel = (JSON.parse(rotation.stdout) as { masterLabel: string }).masterLabel;
  });
  afterAll(() => {
    f.close();
    scratch.cleanup();
  });

  it("retire-master refuses while a backup in the backup directory is encrypted under the key, naming it and the command", () => {
    const before = hashTree(f.dataDir);
    const refused = cli(["keys", "retire-master", oldLabel], rotated());
    expect(refused.status).toBe(1);
    expect(failureLine(refused)).toBe(
      `vecto: refusing to retire master key ${oldLabel}: 1 backup(s) in ${backups} are encrypted under it (${backup.slice(backups.length + 1)}); run "vecto backup rewrap --dir ${backups}" with the key still loaded, or keep the key as long as you keep those backups`,
    );
    expect(hashTree(f.dataDir)).toEqual(before);
  });

  it("rewrap without the old key loaded fails with one line naming the key, and leaves the file as it was", () => {
    const bytes = readFileSync(backup);
    const failed = cli(["backup", "rewrap", backup], { ...base, VECTO_MASTER_KEY_FILE: newKey });
    expect(failed.status).toBe(2);
    expect(failureLine(failed)).toBe(
      `vecto: this backup is encrypted under master key ${oldLabel}, but the loaded master key is ${newLabel}; configure master key ${oldLabel} to open it`,
    );
    expect(readFileSync(backup).equals(bytes)).toBe(true);
  });

  it("rewrap --dir re-encrypts the full backup under the current key (tenant backups need nothing); then retirement goes through", async () => {
    const { header: before } = await readBackupHeader(backup);
    const done = cli(["backup", "rewrap", "--dir", backups, "--json"], rotated());
    expect(done.status, done.stderr).toBe(0);
    const results = JSON.parse(done.stdout) as { file: string; status: string; from: string; to: string }[];
    expect(results).toEqual(
      expect.arrayContaining([
        { file: backup, backupId: before.backupId, status: "rewrapped", from: oldLabel, to: newLabel },
        expect.objectContaining({ file: tenantBackup, status: "tenant" }),
      ]),
    );
    const { header: after } = await readBackupHeader(backup);
    expect(after.key).toMatchObject({ type: "master", masterLabel: newLabel });
    for (const field of ["kind", "backupId", "createdAt", "installationId", "erasures"] as const)
      expect(after[field]).toEqual(before[field]);
    expect(after.cipher.noncePrefix).not.toBe(before.cipher.noncePrefix);

    const again = cli(["backup", "rewrap", backup], rotated());
    expect(again.stdout).toBe(`${backup}: already under the current master key ${newLabel}\n`);

    const retired = cli(["keys", "retire-master", oldLabel], rotated());
    expect(retired.status, retired.stderr).toBe(0);
  });

  it("with the old key destroyed, the backup still verifies and restores", () => {
    rmSync(oldKey);
    const env = { ...base, VECTO_MASTER_KEY_FILE: newKey };
    const verified = cli(["backup", "verify", backup, "--json"], env);
    expect(verified.status, verified.stderr).toBe(0);
    expect((JSON.parse(verified.stdout) as { keyOwner: string }).keyOwner).toBe(newLabel);
    const restoredEnv = { ...env, VECTO_DATA_DIR: join(scratch.path, "restored") };
    const restored = cli(["backup", "restore", backup, "--yes", "--json"], restoredEnv);
    expect(restored.status, restored.stderr).toBe(0);
    // The restored tenant's data key opens under the new key alone: its rows can be sealed into a tenant backup.
    const opened = cli(
      ["backup", "create", "--tenant", "rw-acme", "--out", join(scratch.path, "acme-after.vbak")],
      restoredEnv,
    );
    expect(opened.status, opened.stderr).toBe(0);
  });
});
