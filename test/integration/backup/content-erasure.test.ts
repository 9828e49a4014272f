/**
 * Content erased on request (a node, a project) stays erased across a full restore: a backup taken
 * before the erasure still holds the rows, and restore deletes them again before the restored copy
 * goes live, here (from the live audit log) and on a new machine (from the erasure record kept
 * next to the backups).
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ERASED_FILE } from "../../../src/backup/erasures.js";
import { runCli, tempDir } from "../../helpers.js";
import { identityFixture, type Fixture, type TenantAccount } from "../../identity-fixture.js";
import { carryBackups, json, restoreOnNewMachine } from "./backup-helpers.js";

interface Planted {
  readonly nodeId: string;
  readonly projectId: string;
  readonly keptNodeId: string;
  readonly erasedProjectId: string;
  readonly erasedProjectNodeId: string;
  readonly titleEnc: Buffer;
}

describe("content erasure across a restore", () => {
  let f: Fixture;
  let acme: TenantAccount;
  let planted: Planted;
  const scratch = tempDir("vecto-content-erasure-");
  const backups = join(scratch.path, "backups");
  const fullBackup = join(backups, "full-before-erasure.vbak");
  const laterBackup = join(backups, "full-after-erasure.vbak");
  const cli = (args: string[]): ReturnType<typeof runCli> =>
    runCli(args, { cwd: scratch.path, env: { VECTO_DATA_DIR: f.dataDir, VECTO_LOG_LEVEL: "warn" } });

  const post = async <T>(path: string, body: unknown): Promise<T> => {
    const res = await f.call("POST", path, { token: acme.admin.tokens.accessToken, body });
    if (res.status !== 201 && res.status !== 200) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return json<T>(res);
  };
  const erase = async (kind: "nodes" | "projects", id: string): Promise<void> => {
    expect(
      (await f.call("DELETE", `/api/${kind}/${id}`, { token: acme.admin.tokens.accessToken })).status,
    ).toBeLessThan(300);
    expect(
      (
        await f.call("POST", `/api/${kind}/${id}/erase`, {
          token: acme.admin.tokens.accessToken,
          body: { reason: "DSR-7" },
        })
      ).status,
    ).toBe(200);
  };

  beforeAll(async () => {
    f = await identityFixture();
    acme = await f.createTenant("ce-acme");
    const projectId = (await post<{ project: { id: string } }>("/api/projects", { name: "Kept project" })).project.id;
    const nodeId = (
      await post<{ node: { id: string } }>(`/api/projects/${projectId}/nodes`, {
        type: "idea",
        title: "Xylophone merger memo",
      })
    ).node.id;
    const keptNodeId = (
      await post<{ node: { id: string } }>(`/api/projects/${projectId}/nodes`, {
        type: "decision",
        title: "Kept decision",
      })
    ).node.id;
    await post(`/api/projects/${projectId}/edges`, { type: "originates_from", from: keptNodeId, to: nodeId });
    const erasedProjectId = (await post<{ project: { id: string } }>("/api/projects", { name: "Erased project" }))
      .project.id;
    const erasedProjectNodeId = (
      await post<{ node: { id: string } }>(`/api/projects/${erasedProjectId}/nodes`, {
        type: "task",
        title: "Erased task",
      })
    ).node.id;
    const stored = f.services.db.forTenant({ tenantId: acme.tenantId } as never).nodes.get(nodeId);
    planted = {
      nodeId,
      projectId,
      keptNodeId,
      erasedProjectId,
      erasedProjectNodeId,
      titleEnc: Buffer.from(stored?.titleEnc ?? []),
    };
    mkdirSync(backups, { mode: 0o700 });
  });
  afterAll(() => {
    f.close();
    scratch.cleanup();
  });

  it("a full backup from before the erasure does not bring the content back when restored here", async () => {
    const made = cli(["backup", "create", "--out", fullBackup]);
    expect(made.status, made.stderr).toBe(0);
    await erase("nodes", planted.nodeId);
    await erase("projects", planted.erasedProjectId);
    // Recorded next to the data at once, before any backup ran.
    const recorded = JSON.parse(readFileSync(join(f.dataDir, ERASED_FILE), "utf8")) as { content: { id: string }[] };
    expect(recorded.content.map((c) => c.id).sort()).toEqual([planted.nodeId, planted.erasedProjectId].sort());
    const later = cli(["backup", "create", "--out", laterBackup]);
    expect(later.status, later.stderr).toBe(0);
    f.services.close();

    const restored = cli(["backup", "restore", fullBackup, "--yes", "--json"]);
    expect(restored.status, restored.stderr).toBe(0);
    const report = JSON.parse(restored.stdout) as {
      erasedAgain: string[];
      contentErasedAgain: { kind: string; id: string }[];
    };
    expect(report.erasedAgain).toEqual([]);
    expect(report.contentErasedAgain.map((c) => `${c.kind} ${c.id}`).sort()).toEqual(
      [`node ${planted.nodeId}`, `project ${planted.erasedProjectId}`].sort(),
    );
    expectErased(f.dataDir);
    const record = JSON.parse(readFileSync(join(f.dataDir, ERASED_FILE), "utf8")) as { content: { id: string }[] };
    expect(record.content.map((c) => c.id).sort()).toEqual([planted.nodeId, planted.erasedProjectId].sort());
  });

  it("nor on a new machine, from the backup directory carried over (the later backup's embedded record)", () => {
    const [oldCopy] = carryBackups([fullBackup, laterBackup], join(scratch.path, "carried"));
    const machine = restoreOnNewMachine(f, oldCopy ?? "", scratch.path);
    expect(machine.report.contentErasedAgain.map((c) => c.id).sort()).toEqual(
      [planted.nodeId, planted.erasedProjectId].sort(),
    );
    expectErased(machine.dataDir);
  });

  function expectErased(dataDir: string): void {
    const file = join(dataDir, "vecto.db");
    const db = new BetterSqlite3(file, { readonly: true });
    try {
      const count = (sql: string, ...args: string[]): unknown => (db.prepare(sql).get(...args) as { n: number }).n;
      expect(
        count("SELECT count(*) AS n FROM nodes WHERE id IN (?, ?)", planted.nodeId, planted.erasedProjectNodeId),
      ).toBe(0);
      expect(
        count(
          "SELECT count(*) AS n FROM node_terms WHERE node_id IN (?, ?)",
          planted.nodeId,
          planted.erasedProjectNodeId,
        ),
      ).toBe(0);
      expect(
        count("SELECT count(*) AS n FROM edges WHERE from_id = ? OR to_id = ?", planted.nodeId, planted.nodeId),
      ).toBe(0);
      expect(count("SELECT count(*) AS n FROM projects WHERE id = ?", planted.erasedProjectId)).toBe(0);
      // What was not erased came back.
      expect(count("SELECT count(*) AS n FROM nodes WHERE id = ?", planted.keptNodeId)).toBe(1);
      const again = db
        .prepare(
          "SELECT event, payload FROM audit_events WHERE tenant_id = ? AND payload LIKE '%erasedAgainAfterRestoreOf%' ORDER BY seq",
        )
        .all(acme.tenantId) as { event: string }[];
      expect(again.map((r) => r.event).sort()).toEqual(["node.erased", "project.erased"]);
    } finally {
      db.close();
    }
    for (const path of [file, `${file}-wal`].filter((p) => existsSync(p)))
      expect(readFileSync(path).includes(planted.titleEnc), path).toBe(false);
  }
});
