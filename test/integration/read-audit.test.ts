/**
 * Read auditing (docs/audit.md "Read events"), on a real `vecto serve` over HTTPS: a tenant admin
 * sets `readAudit`; with "sensitive" (the default) an audit-log read and a secret list leave
 * read.sensitive events and a node read does not; with "all" a node read leaves read.content
 * naming ids only; with "off" nothing. Events arrive in batches, so the test polls the log for a
 * marker read (the batcher is first-in first-out and writes all it holds, so once a later
 * marker is in the log, every earlier recorded read is too); it never waits a fixed time. The log
 * is read by an auditor: read events carry security payloads, withheld from a plain admin. Events
 * queued when the server stops are written at shutdown, and the tenant's log still verifies.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, httpsRequest, runCli, startServe, tempDir, waitForExit, type HttpsResult } from "../helpers.js";
import { STRONG_PASSWORD } from "../identity-fixture.js";

interface AuditLine {
  readonly seq: number;
  readonly event: string;
  readonly actor: { type: string; id: string | null };
  readonly sensitivity: string;
  readonly payload: Record<string, unknown>;
}

describe("read auditing", () => {
  const dir = tempDir();
  let port = 0;
  let server: Awaited<ReturnType<typeof startServe>> | undefined;
  let admin = "";
  /** Reads the log: a read event's payload is a security payload, which only an auditor (audit:security) sees. */
  let auditor = "";
  let adminId = "";
  let tenantId = "";
  let nodeId = "";

  const call = (method: string, path: string, body?: unknown, token = admin): Promise<HttpsResult> =>
    httpsRequest(port, path, {
      method,
      headers: {
        Authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const ok = async (method: string, path: string, body?: unknown, status = 200, token = admin): Promise<string> => {
    const res = await call(method, path, body, token);
    expect(res.status, res.body).toBe(status);
    return res.body;
  };
  const env = { VECTO_DATA_DIR: `${dir.path}/data`, VECTO_BACKUP_SCHEDULE: "off", VECTO_LOG_LEVEL: "warn" };

  /** The tenant's read events so far (reading them is itself a sensitive read, recorded later). */
  async function reads(): Promise<AuditLine[]> {
    const body = await ok("GET", "/api/audit", undefined, 200, auditor);
    return body
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l) as AuditLine)
      .filter((e) => e.event.startsWith("read."));
  }
  const ofOperation = (events: readonly AuditLine[], operation: string): AuditLine[] =>
    events.filter((e) => e.payload.operation === operation);

  /** Polls until the log holds more than `before` events of the marker operation; the batch delay bounds how long. */
  async function untilRecorded(operation: string, before: number): Promise<AuditLine[]> {
    for (;;) {
      const events = await reads();
      if (ofOperation(events, operation).length > before) return events;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  beforeAll(async () => {
    port = await freePort();
    // "info": startServe waits for the "vecto is listening" line.
    server = await startServe(dir.path, { ...env, VECTO_LOG_LEVEL: "info", VECTO_LISTEN: `127.0.0.1:${port}` }, [
      "--setup-token",
    ]);
    const setupToken = /vst_[A-Za-z0-9_-]{43}/.exec(server.stderr())?.[0];
    const anonymous = (path: string, body: object): Promise<HttpsResult> =>
      httpsRequest(port, path, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
    expect(
      (
        await anonymous("/api/setup", {
          token: setupToken,
          email: "root@reads.test",
          name: "Root",
          password: STRONG_PASSWORD,
        })
      ).status,
    ).toBe(201);
    admin = (
      JSON.parse(
        (await anonymous("/api/auth/login", { email: "root@reads.test", password: STRONG_PASSWORD })).body,
      ) as { accessToken: string }
    ).accessToken;
    const created = JSON.parse(
      await ok(
        "POST",
        "/api/tenants",
        {
          slug: "reads",
          name: "Reads",
          admin: { email: "admin@reads.test", name: "Admin", password: STRONG_PASSWORD },
        },
        201,
      ),
    ) as { tenant: { id: string }; admin: { id: string } };
    tenantId = created.tenant.id;
    adminId = created.admin.id;
    admin = (
      JSON.parse(
        (await anonymous("/api/auth/login", { tenant: "reads", email: "admin@reads.test", password: STRONG_PASSWORD }))
          .body,
      ) as { accessToken: string }
    ).accessToken;
    const projectId = (
      JSON.parse(await ok("POST", "/api/projects", { name: "Ledger" }, 201)) as { project: { id: string } }
    ).project.id;
    nodeId = (
      JSON.parse(
        await ok("POST", `/api/projects/${projectId}/nodes`, { type: "idea", title: "Quarterly numbers" }, 201),
      ) as { node: { id: string } }
    ).node.id;
    await ok("POST", "/api/secrets", { name: "smtp-password", value: "hunter2-but-longer" }, 201);
    await ok(
      "POST",
      "/api/users",
      {
        email: "auditor@reads.test",
        name: "Auditor",
        role: "viewer",
        kind: "human",
        auditor: true,
        password: STRONG_PASSWORD,
      },
      201,
    );
    auditor = (
      JSON.parse(
        (
          await anonymous("/api/auth/login", {
            tenant: "reads",
            email: "auditor@reads.test",
            password: STRONG_PASSWORD,
          })
        ).body,
      ) as { accessToken: string }
    ).accessToken;
  }, 60_000);

  afterAll(async () => {
    server?.child.kill("SIGKILL");
    if (server) await waitForExit(server.child);
    dir.cleanup();
  });

  it("defaults to sensitive: an audit-log read and a secret list are recorded, a node read is not", async () => {
    expect(JSON.parse(await ok("GET", "/api/tenant/settings"))).toEqual({ readAudit: "sensitive" });
    await ok("GET", `/api/nodes/${nodeId}`);
    await ok("GET", "/api/secrets");
    const events = await untilRecorded("listSecrets", 0);
    const [list] = ofOperation(events, "listSecrets");
    expect(list).toMatchObject({
      event: "read.sensitive",
      sensitivity: "security",
      actor: { type: "human", id: adminId },
      payload: { operation: "listSecrets", resource: "secrets" },
    });
    expect(ofOperation(events, "exportAuditLog")[0]).toMatchObject({
      event: "read.sensitive",
      payload: { resource: "audit" },
    });
    expect(events.filter((e) => e.event === "read.content")).toEqual([]);
  });

  it("with all, also records a node read, by its id and never its content", async () => {
    expect(JSON.parse(await ok("PUT", "/api/tenant/settings", { readAudit: "all" }))).toEqual({ readAudit: "all" });
    const before = ofOperation(await reads(), "listSecrets").length;
    await ok("GET", `/api/nodes/${nodeId}`);
    await ok("GET", "/api/tenant/settings");
    await ok("GET", "/api/secrets");
    const events = await untilRecorded("listSecrets", before);
    const [node] = ofOperation(events, "getNode");
    expect(node).toMatchObject({ event: "read.content", sensitivity: "normal", actor: { type: "human", id: adminId } });
    expect(node?.payload).toEqual({ nodeId, operation: "getNode", resource: "nodes" });
    // The settings read is content too; the change itself was audited (tenant.updated).
    expect(ofOperation(events, "getTenantSettings").length).toBeGreaterThan(0);
    const body = await ok("GET", "/api/audit?event=tenant.updated", undefined, 200, auditor);
    expect(body).toContain('"readAudit":"all"');
    expect(JSON.stringify(events)).not.toContain("Quarterly numbers");
  });

  it("with off, records no read at all", async () => {
    await ok("PUT", "/api/tenant/settings", { readAudit: "off" });
    const before = await reads();
    await ok("GET", `/api/nodes/${nodeId}`);
    await ok("GET", "/api/secrets");
    await ok("GET", "/api/secrets");
    await ok("PUT", "/api/tenant/settings", { readAudit: "sensitive" });
    // A marker read under "sensitive": once it is in the log, anything queued before it is too.
    await ok("GET", "/api/audit/checkpoints");
    const after = await untilRecorded("listAuditCheckpoints", ofOperation(before, "listAuditCheckpoints").length);
    expect(ofOperation(after, "listSecrets")).toHaveLength(ofOperation(before, "listSecrets").length);
    expect(ofOperation(after, "getNode")).toHaveLength(ofOperation(before, "getNode").length);
  });

  it("refuses a level it does not know, and an empty change", async () => {
    expect((await call("PUT", "/api/tenant/settings", { readAudit: "none" })).status).toBe(422);
    expect((await call("PUT", "/api/tenant/settings", {})).status).toBe(422);
    expect(JSON.parse(await ok("GET", "/api/tenant/settings"))).toEqual({ readAudit: "sensitive" });
  });

  it("writes the reads still queued when the server stops, and the tenant's log verifies", async () => {
    const running = server;
    if (!running) throw new Error("no server");
    // Recorded (exportAuditLog) after every earlier secret list; then the list below is answered and the server stopped at once.
    await reads();
    await ok("GET", "/api/secrets");
    running.child.kill("SIGTERM");
    expect(await waitForExit(running.child)).toBe(0);
    server = undefined;
    const exported = runCli(["audit", "export", "--log", "reads", "--event", "read.sensitive"], { cwd: dir.path, env });
    expect(exported.status, exported.stderr).toBe(0);
    const lines = exported.stdout
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l) as AuditLine);
    // Had the last batch been lost, the newest read event would be the audit read above.
    expect(lines.at(-1)?.payload).toMatchObject({ operation: "listSecrets" });
    const verified = runCli(["audit", "verify", "--log", tenantId], { cwd: dir.path, env });
    expect(verified.status, verified.stdout + verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(/^ok {4}/);
  });
});
