/**
 * Checkpoints as the logs grow (src/audit/checkpointer.ts), under the real `vecto serve` over
 * HTTPS: an acknowledged write is covered by a signed, anchored checkpoint soon after, without
 * the five-minute job; a burst of concurrent writes is covered by far fewer checkpoints than
 * writes; a SIGTERM leaves the last events covered; a failing checkpoint fails no request and
 * recovers; events a CLI command wrote while the server was down are covered once it starts. The
 * database is read beside the running server (WAL readers do not block it), and waits are bounded
 * polls, never timed assertions.
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, runCli, startServe, tempDir, waitForExit, waitForLines } from "../helpers.js";
import { createAcme, loginToken, serveClient, setupRoot, type Call } from "../serve-client.js";

type Server = Awaited<ReturnType<typeof startServe>>;

const BURST = 200;

describe("checkpoints as the logs grow, under vecto serve", () => {
  const dir = tempDir();
  const cwd = dir.path;
  const data = join(cwd, "data");
  const anchors = join(data, "audit-anchors");
  let env: Record<string, string> = {};
  let server: Server | undefined;
  let call: Call;
  let admin = "";
  let tenantId = "";
  let projectId = "";

  const sql = <T>(statement: string, ...params: unknown[]): T => {
    const db = new BetterSqlite3(join(data, "vecto.db"), { readonly: true });
    try {
      return db.prepare(statement).get(...params) as T;
    } finally {
      db.close();
    }
  };
  const logSize = (log: string): number =>
    sql<{ n: number }>("SELECT count(*) AS n FROM audit_events WHERE tenant_id = ?", log).n;
  const newest = (log: string): number =>
    sql<{ size: number | null }>("SELECT max(size) AS size FROM audit_checkpoints WHERE tenant_id = ?", log).size ?? 0;
  const checkpointCount = (log: string): number =>
    sql<{ n: number }>("SELECT count(*) AS n FROM audit_checkpoints WHERE tenant_id = ?", log).n;
  /** The size of the log's last anchor line; 0 while it has none. */
  const anchored = (log: string): number => {
    const file = join(anchors, `${log}.jsonl`);
    const last = existsSync(file) ? readFileSync(file, "utf8").trimEnd().split("\n").at(-1) : undefined;
    return last ? (JSON.parse(last) as { size: number }).size : 0;
  };
  /** Polls `read` (at most 200 times, 50 ms apart) until it reaches `size`; returns the last reading. */
  const reaches = async (read: () => number, size: number): Promise<number> => {
    for (let i = 0; i < 200 && read() < size; i++) await new Promise((r) => setTimeout(r, 50));
    return read();
  };
  const createNode = async (title: string): Promise<number> =>
    (await call("POST", `/api/projects/${projectId}/nodes`, { token: admin, body: { type: "note", title } })).status;
  const start = async (): Promise<Server> => {
    server = await startServe(cwd, env);
    return server;
  };
  const stop = async (): Promise<number | null> => {
    const running = server;
    server = undefined;
    if (!running) return null;
    running.child.kill("SIGTERM");
    return waitForExit(running.child);
  };

  beforeAll(async () => {
    const port = await freePort();
    env = { VECTO_LISTEN: `127.0.0.1:${port}`, VECTO_HTTP_LISTEN: "", VECTO_BACKUP_SCHEDULE: "off" };
    call = serveClient(port);
    expect(runCli(["init"], { cwd, env }).status).toBe(0);
    const { token } = JSON.parse(runCli(["setup-token", "--json"], { cwd, env }).stdout) as { token: string };
    await start();
    tenantId = await createAcme(call, await setupRoot(call, token));
    admin = await loginToken(call, "acme", "admin@acme.test");
    const project = await call("POST", "/api/projects", { token: admin, body: { name: "Apollo" } });
    projectId = (JSON.parse(project.body) as { project: { id: string } }).project.id;
  }, 60_000);

  afterAll(async () => {
    await stop();
    dir.cleanup();
  });

  it("covers the event of a node created over HTTPS with a signed, anchored checkpoint soon after the 201", async () => {
    expect(await createNode("covered")).toBe(201);
    const seq = sql<{ seq: number }>(
      "SELECT max(seq) AS seq FROM audit_events WHERE tenant_id = ? AND event = 'node.created'",
      tenantId,
    ).seq;
    expect(await reaches(() => newest(tenantId), seq + 1)).toBeGreaterThan(seq);
    expect(await reaches(() => anchored(tenantId), seq + 1)).toBeGreaterThan(seq);
  });

  it(`covers a burst of ${BURST} concurrent writes with far fewer checkpoints than writes, the last covering all`, async () => {
    const before = checkpointCount(tenantId);
    const statuses = await Promise.all(Array.from({ length: BURST }, (_, i) => createNode(`burst ${i}`)));
    expect(statuses.every((s) => s === 201)).toBe(true);
    const size = logSize(tenantId);
    expect(await reaches(() => newest(tenantId), size)).toBe(size);
    const made = checkpointCount(tenantId) - before;
    expect(made).toBeGreaterThanOrEqual(1);
    expect(made).toBeLessThan(BURST / 4);
    expect(await reaches(() => anchored(tenantId), size)).toBe(size);
  }, 120_000);

  it("a failing checkpoint (its anchor file cannot be written) fails no request, is logged, and is anchored once it can be", async () => {
    const running = server as Server;
    const file = join(anchors, `${tenantId}.jsonl`);
    const before = anchored(tenantId);
    // Like a full or read-only anchor mount: the append fails (EISDIR).
    rmSync(file);
    mkdirSync(file);
    expect(await createNode("while failing")).toBe(201);
    await waitForLines(
      running.child,
      running.stdout,
      "audit checkpoint failed; the events stay uncovered until a later run succeeds",
    );
    expect((await call("GET", "/healthz")).status).toBe(200);
    expect(await createNode("still acknowledged")).toBe(201);
    const size = logSize(tenantId);
    expect(size).toBeGreaterThan(before);
    rmSync(file, { recursive: true });
    await waitForLines(running.child, running.stdout, "audit checkpoints are being made again");
    // The anchor line the failed runs could not write is written by the retry, with no new event needed.
    expect(await reaches(() => anchored(tenantId), size)).toBe(size);
    expect(newest(tenantId)).toBe(size);
  }, 60_000);

  it("SIGTERM leaves the last acknowledged events of every log covered by a checkpoint and an anchor; verify passes", async () => {
    // Two writes back to back: the second falls within the first's second, so only the shutdown can cover it.
    expect(await createNode("last but one")).toBe(201);
    expect(await createNode("last")).toBe(201);
    expect(await stop()).toBe(0);
    for (const log of [tenantId, "_platform"]) {
      const size = logSize(log);
      expect(newest(log)).toBe(size);
      expect(anchored(log === "_platform" ? "platform" : log)).toBe(size);
    }
    const verify = runCli(["audit", "verify", "--log", tenantId], { cwd, env });
    expect(verify.status, verify.stdout).toBe(0);
  }, 60_000);

  it("events a CLI command wrote while the server was down are checkpointed once it starts, without the five-minute job", async () => {
    await stop();
    const rotate = runCli(["keys", "rotate-tenant", "acme"], { cwd, env });
    expect(rotate.status, rotate.stderr).toBe(0);
    const size = logSize(tenantId);
    expect(newest(tenantId)).toBeLessThan(size);
    const running = await start();
    expect(await reaches(() => newest(tenantId), size)).toBe(size);
    expect(await reaches(() => anchored(tenantId), size)).toBe(size);
    // The rest of the deferred start ran too, after the listener: the usage snapshot a missed night owes.
    await waitForLines(running.child, running.stdout, "usage checked at start");
  }, 60_000);
});
