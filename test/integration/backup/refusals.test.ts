/**
 * Restore refuses, with one clear line and a distinct exit code, and changes nothing in the live
 * data directory (every file hashed before and after): a wrong master key, a truncated file (cut
 * in the header, right after it, mid-chunk, exactly at a chunk boundary, one byte short), any
 * modified byte (header text, wrapped key, ciphertext, tag), swapped chunks, a newer schema,
 * another installation, a tenant backup, a missing --yes, and a running appliance.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createFullBackup } from "../../../src/backup/create.js";
import { readBackupHeader } from "../../../src/backup/verify.js";
import { loadConfig } from "../../../src/config.js";
import { generateMasterKeyFile } from "../../../src/crypto/resolvers/env.js";
import { keystorePath } from "../../../src/db/db.js";
import { migrations } from "../../../src/db/migrations/index.js";
import { createLogger } from "../../../src/log.js";
import { openKeyResolver, openServices } from "../../../src/services.js";
import { freePort, runCli, startServe, tempDir, waitForExit, type CliResult } from "../../helpers.js";
import { identityFixture, type Fixture } from "../../identity-fixture.js";
import { failureLine, hashTree, populate } from "./backup-helpers.js";

const CHUNK = 16 * 1024;
const SEALED = CHUNK + 16;

/**
 * Waits until the files under `dir` stay the same for longer than the checkpointer's interval (1 s):
 * a running server's start has settled.
 */
async function untilUnchanged(dir: string): Promise<void> {
  let last = JSON.stringify(hashTree(dir));
  for (let round = 0; round < 30; round++) {
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const now = JSON.stringify(hashTree(dir));
    if (now === last) return;
    last = now;
  }
  throw new Error(`${dir} kept changing`);
}

describe("restore refusals", () => {
  let f: Fixture;
  const scratch = tempDir("vecto-refusals-");
  let good: string;
  let dataOffset: number;
  let goodBytes: Buffer;

  const env = (extra: Record<string, string> = {}): Record<string, string> => ({
    VECTO_DATA_DIR: f.dataDir,
    VECTO_LOG_LEVEL: "warn",
    VECTO_BACKUP_SCHEDULE: "off",
    ...extra,
  });
  const cli = (args: string[], extra: Record<string, string> = {}): CliResult =>
    runCli(args, { cwd: scratch.path, env: env(extra) });

  async function backupOf(dataDir: string, out: string): Promise<string> {
    const config = loadConfig({ VECTO_ENV_FILE: "/dev/null", VECTO_DATA_DIR: dataDir }, scratch.path);
    await createFullBackup(
      { dataDir, databaseFile: config.databaseFile, keystoreFile: keystorePath(config.databaseFile) },
      await openKeyResolver(config),
      { out, chunkBytes: CHUNK },
    );
    return out;
  }

  function variant(name: string, bytes: Buffer): string {
    const file = join(scratch.path, name);
    writeFileSync(file, bytes);
    return file;
  }

  /** Restores `file`, expects the exit code and message, and that the live data dir is byte-identical afterwards. */
  function refused(
    file: string,
    code: number,
    message: RegExp,
    extra: Record<string, string> = {},
    args: string[] = ["--yes"],
  ): void {
    const before = hashTree(f.dataDir);
    const result = cli(["backup", "restore", file, ...args], extra);
    expect(result.status, result.stderr).toBe(code);
    expect(failureLine(result)).toMatch(/^vecto: /);
    expect(failureLine(result)).toMatch(message);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.stdout).toBe("");
    expect(hashTree(f.dataDir)).toEqual(before);
  }

  beforeAll(async () => {
    f = await identityFixture();
    await populate(f, "rf");
    f.services.close();
    good = await backupOf(f.dataDir, join(scratch.path, "good.vbak"));
    goodBytes = readFileSync(good);
    dataOffset = (await readBackupHeader(good)).dataOffset;
    expect(goodBytes.length - dataOffset).toBeGreaterThan(6 * SEALED);
  });
  afterAll(() => {
    f.close();
    scratch.cleanup();
  });

  it("verifies the intact backup (the baseline every damaged copy is made from)", () => {
    const result = cli(["backup", "verify", good]);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^ok: full backup /);
  });

  it("refuses a wrong master key, naming the master key the backup needs", async () => {
    const wrongKey = join(scratch.path, "wrong.key");
    const { masterLabel } = await generateMasterKeyFile(wrongKey);
    const needed = (await readBackupHeader(good)).header.key;
    const label = needed.type === "master" ? needed.masterLabel : "";
    const message = new RegExp(`encrypted under master key ${label}, but the loaded master key is ${masterLabel}`);
    refused(good, 2, message, { VECTO_MASTER_KEY_FILE: wrongKey });
    const fresh = join(scratch.path, "fresh-wrong");
    const verify = runCli(["backup", "verify", good], {
      cwd: scratch.path,
      env: { VECTO_DATA_DIR: fresh, VECTO_MASTER_KEY_FILE: wrongKey, VECTO_LOG_LEVEL: "warn" },
    });
    expect(verify.status).toBe(2);
    expect(failureLine(verify)).toMatch(message);
    // Verifying inside the installation with the wrong key configured says the same.
    const inPlace = cli(["backup", "verify", good], { VECTO_MASTER_KEY_FILE: wrongKey });
    expect(inPlace.status).toBe(2);
    expect(failureLine(inPlace)).toMatch(message);
  });

  it("refuses a truncated file wherever it was cut", () => {
    const cuts: [string, number, RegExp][] = [
      ["in the magic", 5, /truncated: it ends inside the header/],
      ["in the header", dataOffset - 10, /truncated: it ends inside the header/],
      ["right after the header", dataOffset, /truncated: it has no encrypted data/],
      ["mid-chunk", dataOffset + SEALED + SEALED / 2, /truncated or modified: its last chunk \(1\)/],
      ["at a chunk boundary", dataOffset + 3 * SEALED, /truncated or modified: its last chunk \(2\)/],
      ["one byte short", goodBytes.length - 1, /truncated or modified: its last chunk/],
    ];
    for (const [what, at, message] of cuts)
      refused(variant(`cut-${what.replace(/ /g, "-")}.vbak`, goodBytes.subarray(0, at)), 2, message, {}, [
        "--yes",
        "--json",
      ]);
    expect(cuts.length).toBe(6);
  });

  it("refuses any modified byte: header text, wrapped key, ciphertext, tag, last chunk", () => {
    const flip = (at: number, mask = 0x01): Buffer => {
      const copy = Buffer.from(goodBytes);
      copy.writeUInt8(copy.readUInt8(at) ^ mask, at);
      return copy;
    };
    const header = goodBytes.subarray(0, dataOffset).toString("latin1");
    const producerAt = header.indexOf('"producer":"vecto') + '"producer":"v'.length;
    refused(variant("flip-producer.vbak", flip(producerAt, 0x20)), 2, /chunk 0 fails authentication/);
    const wrappedAt = header.indexOf('"wrapped":"') + '"wrapped":"'.length + 20;
    const swappedChar = Buffer.from(goodBytes);
    swappedChar.write(header[wrappedAt] === "A" ? "B" : "A", wrappedAt, "latin1");
    refused(variant("flip-wrapped.vbak", swappedChar), 2, /file key fails authentication under master key env:/);
    refused(variant("flip-ciphertext.vbak", flip(dataOffset + 3 * SEALED + 100)), 2, /chunk 3 fails authentication/);
    refused(variant("flip-tag.vbak", flip(dataOffset + 3 * SEALED - 1)), 2, /chunk 2 fails authentication/);
    refused(variant("flip-last.vbak", flip(goodBytes.length - 1)), 2, /last chunk/);
    refused(variant("flip-length.vbak", flip(12)), 2, /header|truncated/);
  });

  it("refuses swapped chunks", () => {
    const at = (i: number): Buffer => goodBytes.subarray(dataOffset + i * SEALED, dataOffset + (i + 1) * SEALED);
    const swapped = Buffer.concat([
      goodBytes.subarray(0, dataOffset),
      at(0),
      at(2),
      at(1),
      goodBytes.subarray(dataOffset + 3 * SEALED),
    ]);
    expect(swapped.length).toBe(goodBytes.length);
    refused(variant("swapped.vbak", swapped), 2, /chunk 1 fails authentication/);
  });

  it("refuses what is not a backup at all", () => {
    refused(variant("not-a-backup.vbak", Buffer.from("SQLite format 3\0 not really")), 2, /is not a Vecto backup/);
    refused(join(scratch.path, "missing.vbak"), 1, /missing.vbak does not exist/);
  });

  it("refuses a backup with a newer schema than this build knows", async () => {
    const futureDir = join(scratch.path, "future-data");
    mkdirSync(futureDir, { mode: 0o700 });
    for (const name of ["vecto.db", "keys.db", "master.key"])
      copyFileSync(join(f.dataDir, name), join(futureDir, name));
    const db = new BetterSqlite3(join(futureDir, "vecto.db"));
    db.prepare(
      "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (99, '0099_future', 'x', '2030-01-01T00:00:00Z')",
    ).run();
    db.close();
    const future = await backupOf(futureDir, join(scratch.path, "future.vbak"));
    expect((await readBackupHeader(future)).header.schema.data).toBe(99);
    const latest = migrations.at(-1)?.version ?? 0;
    refused(future, 3, new RegExp(`data schema version 99, this build knows up to ${latest}`));
  });

  it("refuses a backup of another installation unless --force-installation", async () => {
    // Another installation that shares this one's master key (a clone, or one HSM key for two appliances).
    const otherDir = join(scratch.path, "other-installation");
    mkdirSync(otherDir, { mode: 0o700 });
    copyFileSync(join(f.dataDir, "master.key"), join(otherDir, "master.key"));
    const otherConfig = loadConfig({ VECTO_ENV_FILE: "/dev/null", VECTO_DATA_DIR: otherDir }, scratch.path);
    (await openServices(otherConfig, createLogger("silent"))).close();
    const foreign = await backupOf(otherDir, join(scratch.path, "foreign.vbak"));
    const theirs = (await readBackupHeader(foreign)).header.installationId;
    refused(
      foreign,
      3,
      new RegExp(
        `backup is from installation ${theirs}, this data directory is installation [0-9a-f-]+; use --force-installation`,
      ),
    );
    // Forced, onto a copy of this installation: the copy becomes the other installation.
    const copy = join(scratch.path, "clone-target");
    mkdirSync(copy, { mode: 0o700 });
    for (const name of ["vecto.db", "keys.db", "master.key"]) copyFileSync(join(f.dataDir, name), join(copy, name));
    const forced = runCli(["backup", "restore", foreign, "--yes", "--force-installation"], {
      cwd: scratch.path,
      env: { VECTO_DATA_DIR: copy, VECTO_LOG_LEVEL: "warn" },
    });
    expect(forced.status, forced.stderr).toBe(0);
    const db = new BetterSqlite3(join(copy, "vecto.db"), { readonly: true });
    expect(
      (db.prepare("SELECT installation_id FROM installation").get() as { installation_id: string }).installation_id,
    ).toBe(theirs);
    db.close();
  });

  it("refuses a tenant backup and a restore without --yes", () => {
    refused(good, 3, /run again with --yes to confirm/, {}, []);
    const slug = "rf-acme";
    const tenantBackup = join(scratch.path, "tenant.vbak");
    const made = cli(["backup", "create", "--tenant", slug, "--out", tenantBackup]);
    expect(made.status, made.stderr).toBe(0);
    refused(tenantBackup, 3, /is a tenant backup .*only full backups are restored/);
  });

  it("refuses while the appliance is serving from the data directory", async () => {
    const port = await freePort();
    const server = await startServe(scratch.path, env({ VECTO_LISTEN: `127.0.0.1:${port}`, VECTO_LOG_LEVEL: "info" }), [
      "--no-setup-token",
    ]);
    try {
      // The server's own background start (checkpoints of every log, their anchor files) ends first:
      // the data directory must then be left exactly as it is by the refused restore.
      await untilUnchanged(f.dataDir);
      refused(good, 3, /is in use by a running vecto serve; stop the service first/);
    } finally {
      server.child.kill("SIGTERM");
      await waitForExit(server.child);
    }
    // Stopped: the same backup restores.
    const done = cli(["backup", "restore", good, "--yes", "--json"]);
    expect(done.status, done.stderr).toBe(0);
    expect((JSON.parse(done.stdout) as { previous: string[] }).previous).toHaveLength(2);
  });
});
