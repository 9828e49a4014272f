/**
 * A full disk (issue 12, point 5), on a real small tmpfs under the real `vecto serve`: writes
 * answer 507 storage-full with Retry-After and store nothing (no log line claims them either),
 * reads keep working, /readyz is not ready naming storage, sign-in does not 500; once space is
 * freed writes work again; SIGTERM on a full disk stops with exit 0 and one warning line; the
 * next start has every acknowledged write.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync, statfsSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, startServe, tempDir, waitForExit, type HttpsResult, httpsRequest } from "../helpers.js";
import { STRONG_PASSWORD } from "../identity-fixture.js";
import { isRoot } from "../installer/fixture.js";

type Server = Awaited<ReturnType<typeof startServe>>;

/** Room the filler leaves: less than one more WAL frame with a node in it. */
const LEFT_FREE = 2048;
const BIG_BODY = 60_000;

describe.skipIf(!isRoot)("a full disk", () => {
  let scratch: ReturnType<typeof tempDir> | undefined;
  let mnt = "";
  let cwd = "";
  let dataDir = "";
  let filler = "";
  let mounted = false;
  let server: Server | undefined;
  let port = 0;
  let adminToken = "";
  let projectId = "";
  const acknowledged: string[] = [];

  const call = (method: string, path: string, body?: unknown, token = adminToken): Promise<HttpsResult> =>
    httpsRequest(port, path, {
      method,
      headers: {
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const login = (): Promise<HttpsResult> =>
    call("POST", "/api/auth/login", { tenant: "full", email: "admin@full.test", password: STRONG_PASSWORD }, "");
  const createNode = async (title: string): Promise<HttpsResult> => {
    const res = await call("POST", `/api/projects/${projectId}/nodes`, {
      type: "note",
      title,
      body: randomBytes(BIG_BODY / 2).toString("hex"),
    });
    if (res.status === 201) acknowledged.push((JSON.parse(res.body) as { node: { id: string } }).node.id);
    return res;
  };
  // The running server may write between the measure and the fill (a checkpoint soon after the last
  // commit): the filler then finds less room than measured, so measure again and refill.
  const fill = (): void => {
    for (let attempt = 1; ; attempt++) {
      const { bavail, bsize } = statfsSync(mnt);
      try {
        writeFileSync(filler, Buffer.alloc(Math.max(0, bavail * bsize - LEFT_FREE)));
        return;
      } catch (error) {
        rmSync(filler, { force: true });
        if ((error as NodeJS.ErrnoException).code !== "ENOSPC" || attempt === 5) throw error;
      }
    }
  };
  const start = async (args: string[] = ["--no-setup-token"]): Promise<Server> => {
    port = await freePort();
    server = await startServe(
      cwd,
      { VECTO_DATA_DIR: dataDir, VECTO_LISTEN: `127.0.0.1:${port}`, VECTO_BACKUP_SCHEDULE: "off" },
      args,
    );
    return server;
  };
  const stop = async (): Promise<number | null> => {
    const running = server;
    server = undefined;
    if (!running) return null;
    running.child.kill("SIGTERM");
    return waitForExit(running.child);
  };
  const nodeIds = async (): Promise<string[]> => {
    const res = await call("GET", `/api/projects/${projectId}/nodes?limit=200`);
    expect(res.status).toBe(200);
    return (JSON.parse(res.body) as { nodes: { id: string }[] }).nodes.map((n) => n.id).sort();
  };

  beforeAll(async () => {
    scratch = tempDir("vecto-disk-full-");
    mnt = scratch.path;
    [cwd, dataDir, filler] = [join(mnt, "work"), join(mnt, "data"), join(mnt, "filler")];
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=12m,mode=0700", "tmpfs", mnt]);
    mounted = true;
    mkdirSync(cwd);
    const first = await start(["--setup-token"]);
    const token = /vst_[A-Za-z0-9_-]{43}/.exec(first.stderr())?.[0];
    expect(
      (
        await call(
          "POST",
          "/api/setup",
          { token, email: "root@full.test", name: "Root", password: STRONG_PASSWORD },
          "",
        )
      ).status,
    ).toBe(201);
    const root = await call("POST", "/api/auth/login", { email: "root@full.test", password: STRONG_PASSWORD }, "");
    const rootToken = (JSON.parse(root.body) as { accessToken: string }).accessToken;
    const tenant = await call(
      "POST",
      "/api/tenants",
      { slug: "full", name: "Full", admin: { email: "admin@full.test", name: "Admin", password: STRONG_PASSWORD } },
      rootToken,
    );
    expect(tenant.status).toBe(201);
    adminToken = (JSON.parse((await login()).body) as { accessToken: string }).accessToken;
    projectId = (
      JSON.parse((await call("POST", "/api/projects", { name: "Disk" })).body) as { project: { id: string } }
    ).project.id;
    for (let i = 0; i < 5; i++) expect((await createNode(`before ${i}`)).status).toBe(201);
  });

  afterAll(async () => {
    await stop();
    // Lazy: detaches even if a failed start left a process holding a file there.
    if (mounted) execFileSync("umount", ["-l", mnt]);
    scratch?.cleanup();
  });

  it("refuses writes with 507 storage-full and Retry-After, and logs no event for them", async () => {
    fill();
    // Below the free-space floor /readyz says so before any write has failed.
    expect((await call("GET", "/readyz", undefined, "")).status).toBe(503);
    const nodesLogged = server
      ?.stdout()
      .split("\n")
      .filter((line) => line.includes('"msg":"node.created"')).length;
    for (let i = 0; i < 3; i++) {
      const res = await createNode(`refused ${i}`);
      expect(res.status).toBe(507);
      expect(res.headers["content-type"]).toBe("application/problem+json");
      expect(res.headers["retry-after"]).toBe("60");
      const problem = JSON.parse(res.body) as { type: string; status: number; detail: string };
      expect(problem).toMatchObject({ type: "urn:vecto:problem:storage-full", status: 507 });
      expect(problem.detail).not.toMatch(/SQLITE|\/|at /);
    }
    expect(
      server
        ?.stdout()
        .split("\n")
        .filter((line) => line.includes('"msg":"node.created"')).length,
    ).toBe(nodesLogged);
    expect(server?.stdout()).toContain('"msg":"storage-full"'); // the operator's line
  });

  it("keeps reads working and every acknowledged write, and is not ready, naming storage", async () => {
    expect(await nodeIds()).toEqual([...acknowledged].sort());
    // An export is recorded in the audit trail before its first byte: no record, no export.
    expect((await call("GET", "/api/audit?format=jsonl")).status).toBe(507);
    const ready = await call("GET", "/readyz", undefined, "");
    expect(ready.status).toBe(503);
    expect(ready.headers["retry-after"]).toBe("5");
    const body = JSON.parse(ready.body) as { type: string; checks: Record<string, string> };
    expect(body.type).toBe("urn:vecto:problem:not-ready");
    expect(body.checks).toMatchObject({ database: "ok", keys: "ok" });
    expect(body.checks.storage).toMatch(/full/);
  });

  it("answers a sign-in with 507, not 500", async () => {
    const res = await login();
    expect(res.status).toBe(507);
    expect((JSON.parse(res.body) as { type: string }).type).toBe("urn:vecto:problem:storage-full");
  });

  it("writes again once space is freed, and is ready again", async () => {
    unlinkSync(filler);
    expect((await call("GET", "/readyz", undefined, "")).status).toBe(200);
    expect((await login()).status).toBe(200);
    for (let i = 0; i < 4; i++) expect((await createNode(`after ${i}`)).status).toBe(201);
    expect(await nodeIds()).toEqual([...acknowledged].sort());
    expect(
      server
        ?.stdout()
        .split("\n")
        .filter((line) => line.includes('"msg":"node.created"')).length,
    ).toBe(acknowledged.length);
  });

  it("stops on SIGTERM with the disk full: exit 0, one warning line, no stack; the next start has every write", async () => {
    const running = server;
    fill();
    expect(await stop()).toBe(0);
    const warnings = (running?.stdout() ?? "")
      .split("\n")
      .filter((line) => line.includes('"level":"warn"') && line.includes("write-ahead logs were kept"));
    expect(warnings).toHaveLength(1);
    expect(running?.stdout()).toContain("stopped cleanly");
    expect(`${running?.stdout()}${running?.stderr()}`).not.toMatch(/\n\s+at |SqliteError/);

    unlinkSync(filler);
    await start();
    adminToken = (JSON.parse((await login()).body) as { accessToken: string }).accessToken;
    expect(await nodeIds()).toEqual([...acknowledged].sort());
    expect(acknowledged).toHaveLength(9);
    expect(await stop()).toBe(0);
  });
});
