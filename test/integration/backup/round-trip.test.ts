/**
 * Full backup → restore into a fresh data directory → the appliance there serves the same data.
 * The source appliance runs in this process (real app, real SQLite files, real keys); backups are
 * made by the real `vecto backup create` process while the app keeps writing.
 */
import { mkdirSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, startServe, tempDir, waitForExit } from "../../helpers.js";
import { identityFixture, STRONG_PASSWORD, type Fixture } from "../../identity-fixture.js";
import {
  allRows,
  copyMasterKey,
  exportOf,
  httpsCaller,
  json,
  populate,
  runCliAsync,
  type Populated,
} from "./backup-helpers.js";

/** Rows a backup or restore adds on purpose (its own audit records), left out of the comparison. */
const BACKUP_EVENTS = new Set(["backup.created", "backup.restored", "backup.verified"]);
const skipBackupEvents = (table: string, row: Record<string, unknown>): boolean =>
  table === "audit_events" && BACKUP_EVENTS.has(String(row.event));

describe("full backup round trip", () => {
  let f: Fixture;
  let data: Populated;
  const scratch = tempDir("vecto-roundtrip-");
  const masterKey = join(scratch.path, "master.key");
  const backups = join(scratch.path, "backups");

  const sourceEnv = (): Record<string, string> => ({
    VECTO_DATA_DIR: f.dataDir,
    VECTO_BACKUP_DIR: backups,
    VECTO_LOG_LEVEL: "warn",
  });
  const targetEnv = (dataDir: string): Record<string, string> => ({
    VECTO_DATA_DIR: dataDir,
    VECTO_MASTER_KEY_FILE: masterKey,
    VECTO_LOG_LEVEL: "warn",
    VECTO_BACKUP_SCHEDULE: "off",
  });

  async function backup(): Promise<string> {
    const result = await runCliAsync(["backup", "create", "--json"], { cwd: scratch.path, env: sourceEnv() });
    expect(result.status, result.stderr).toBe(0);
    return (JSON.parse(result.stdout) as { file: string }).file;
  }

  async function restoreInto(file: string, name: string): Promise<string> {
    const dataDir = join(scratch.path, name);
    const result = await runCliAsync(["backup", "restore", file, "--yes", "--json"], {
      cwd: scratch.path,
      env: targetEnv(dataDir),
    });
    expect(result.status, result.stderr).toBe(0);
    return dataDir;
  }

  beforeAll(async () => {
    f = await identityFixture();
    data = await populate(f, "rt");
    copyMasterKey(f, masterKey);
    mkdirSync(backups, { mode: 0o700 });
  });
  afterAll(() => {
    f.close();
    scratch.cleanup();
  });

  it("restores every row of every table of the database and the keystore, files private", async () => {
    const file = await backup();
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(backups).mode & 0o777).toBe(0o700);
    const target = await restoreInto(file, "restored-quiet");
    expect(allRows(join(target, "vecto.db"), skipBackupEvents)).toEqual(
      allRows(join(f.dataDir, "vecto.db"), skipBackupEvents),
    );
    expect(allRows(join(target, "keys.db"))).toEqual(allRows(join(f.dataDir, "keys.db")));
    expect(statSync(target).mode & 0o777).toBe(0o700);
    for (const name of ["vecto.db", "keys.db"]) expect(statSync(join(target, name)).mode & 0o777).toBe(0o600);
    // No work directory (snapshots, decrypted copies) is left behind, in either data dir.
    expect(readdirSync(target).filter((n) => n.startsWith("."))).toEqual([]);
    expect(readdirSync(f.dataDir).filter((n) => n.startsWith("."))).toEqual([]);
  });

  it("backs up while the app serves writes: the restored appliance serves a consistent state, equal through the API", async () => {
    const before = { acme: await exportOf(f, data.acme), beta: await exportOf(f, data.beta) };
    const admin = data.acme.admin.tokens.accessToken;
    const written: string[] = [];
    let writing = true;
    const writer = (async () => {
      for (let i = 0; writing; i++) {
        const res = await f.call("POST", `/api/projects/${data.projectId}/nodes`, {
          token: admin,
          body: { type: "task", title: `Concurrent task ${i}` },
        });
        if (res.status !== 201) throw new Error(`write ${i}: ${res.status}`);
        written.push((await json<{ node: { id: string } }>(res)).node.id);
        // app.request resolves through microtasks only; yield so I/O (the backup process) is served too, as a real server would.
        await new Promise((r) => setImmediate(r));
      }
    })();
    await new Promise((r) => setTimeout(r, 200)); // writes are under way before the backup starts
    const acknowledgedBefore = written.length;
    const file = await backup().finally(() => (writing = false));
    await writer;
    expect(written.length).toBeGreaterThan(5);

    const target = await restoreInto(file, "restored-busy");
    const port = await freePort();
    const server = await startServe(
      scratch.path,
      { ...targetEnv(target), VECTO_LISTEN: `127.0.0.1:${port}`, VECTO_LOG_LEVEL: "info" },
      ["--no-setup-token"],
    );
    try {
      const api = httpsCaller(port);
      const login = async (slug: string, email: string): Promise<string> => {
        const res = await api.call("POST", "/api/auth/login", {
          body: { tenant: slug, email, password: STRONG_PASSWORD },
        });
        expect(res.status).toBe(200);
        return (await json<{ accessToken: string }>(res)).accessToken;
      };
      const acmeToken = await login(data.acme.slug, data.acme.admin.email);
      const betaToken = await login(data.beta.slug, data.beta.admin.email);
      expect(await exportOf(api, data.beta, betaToken)).toEqual(before.beta);

      const after = (await exportOf(api, data.acme, acmeToken)) as {
        projects: { id: string; nodes: { id: string; title: string }[] }[];
      };
      const project = after.projects.find((p) => p.id === data.projectId);
      const restoredConcurrent = (project?.nodes ?? []).filter((n) => n.title.startsWith("Concurrent task "));
      // Consistency: the writes the snapshot holds are exactly the first k, in order, each whole.
      const k = restoredConcurrent.length;
      expect(k).toBeGreaterThanOrEqual(acknowledgedBefore); // acknowledged before the backup began: in it
      expect(restoredConcurrent.map((n) => n.id).sort()).toEqual(written.slice(0, k).sort());
      for (const n of restoredConcurrent) expect(n.title).toBe(`Concurrent task ${written.indexOf(n.id)}`);
      // Everything that existed before is there, unchanged.
      const withoutConcurrent = {
        ...after,
        projects: after.projects.map((p) => ({
          ...p,
          nodes: p.nodes.filter((n) => !n.title.startsWith("Concurrent task ")),
        })),
      };
      expect(withoutConcurrent).toEqual(before.acme);
    } finally {
      server.child.kill("SIGTERM");
      await waitForExit(server.child);
    }
  });
});
