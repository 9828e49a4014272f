/**
 * Verification names the first bad event for every kind of tampering, done the way an insider
 * would: raw SQL on the database file with the append-only triggers dropped.
 */
import { createHmac, randomBytes } from "node:crypto";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkpointOrigin, signCheckpoint, verifyCheckpoint } from "../../src/audit/checkpoint-format.js";
import { logKeys, makeCheckpoints } from "../../src/audit/checkpoints.js";
import { verifyConsistency, verifyInclusion } from "../../src/audit/merkle.js";
import { newKeyPair } from "../../src/audit/signed-note.js";
import { leafHashOf, signatureInput } from "../../src/audit/seal.js";
import { verifyLog } from "../../src/audit/verify.js";
import type { AuditRow } from "../../src/db/repositories/audit-log.js";
import { identityFixture, type Fixture } from "../identity-fixture.js";

describe("audit verification", () => {
  let f: Fixture;
  let raw: BetterSqlite3.Database;

  beforeAll(async () => {
    f = await identityFixture();
    raw = new BetterSqlite3(join(f.dataDir, "vecto.db"));
  });
  afterAll(() => {
    raw.close();
    f.close();
  });

  /** A tenant with a log of at least `events` events, checkpointed. */
  async function tenantLog(slug: string, events = 12): Promise<string> {
    const t = await f.createTenant(slug);
    const token = t.admin.tokens.accessToken;
    const project = (
      (await (await f.call("POST", "/api/projects", { token, body: { name: "P" } })).json()) as {
        project: { id: string };
      }
    ).project.id;
    while (f.services.db.auditLog.size(t.tenantId) < events) {
      await f.call("POST", `/api/projects/${project}/nodes`, { token, body: { type: "note", title: "n" } });
    }
    await makeCheckpoints(f.services.db, f.services.crypto, f.services.auditAnchor);
    return t.tenantId;
  }

  /** Runs raw SQL with the append-only triggers out of the way, as an attacker with file access would. */
  function tamper(sql: string, ...params: unknown[]): void {
    raw.exec("DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete;");
    try {
      raw.prepare(sql).run(...params);
    } finally {
      raw.exec(`CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
        CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;`);
    }
  }

  const verify = (log: string) => verifyLog(f.services.db, f.services.crypto, f.services.auditAnchor, log);

  /** The log of the first case, sound when it passed; the license's evaluation limit allows few tenants. */
  let cleanLog = "";

  it("passes an untouched log and its signed checkpoints", async () => {
    const log = await tenantLog("verify-clean");
    cleanLog = log;
    const report = await verify(log);
    expect(report).toMatchObject({ ok: true, checkpoints: 1 });
    expect(report.events).toBeGreaterThanOrEqual(12);
  });

  it("names an edited payload", async () => {
    const log = await tenantLog("verify-edit");
    tamper('UPDATE audit_events SET payload = \'{"nodeId":"someone-else"}\' WHERE tenant_id = ? AND seq = 7', log);
    expect((await verify(log)).firstBad).toEqual({ seq: 7, reason: expect.stringContaining("HMAC") });
  });

  it("names a deleted event", async () => {
    const log = await tenantLog("verify-delete");
    tamper("DELETE FROM audit_events WHERE tenant_id = ? AND seq = 5", log);
    expect((await verify(log)).firstBad).toEqual({ seq: 5, reason: "event 5 is missing (the next stored event is 6)" });
  });

  it("names an inserted (forged) event", async () => {
    const log = await tenantLog("verify-insert");
    const size = f.services.db.auditLog.size(log);
    tamper(
      "INSERT INTO audit_events (vid, tenant_id, seq, event, scope, sensitivity, severity, actor_type, actor_id, actor_name, scope_vid, timestamp, payload, signature, leaf_hash) VALUES (?, ?, ?, 'user.created', 'tenant', 'security', 'info', 'human', 'x', NULL, ?, ?, '{}', ?, ?)",
      "forged-vid",
      log,
      size,
      log,
      new Date().toISOString(),
      randomBytes(32),
      randomBytes(32),
    );
    expect((await verify(log)).firstBad?.seq).toBe(size);
  });

  it("names the first of two swapped events", async () => {
    const log = await tenantLog("verify-swap");
    const a = raw.prepare("SELECT vid FROM audit_events WHERE tenant_id = ? AND seq = 3").get(log) as { vid: string };
    const b = raw.prepare("SELECT vid FROM audit_events WHERE tenant_id = ? AND seq = 4").get(log) as { vid: string };
    tamper("UPDATE audit_events SET seq = 1000000 WHERE vid = ?", a.vid);
    tamper("UPDATE audit_events SET seq = 3 WHERE vid = ?", b.vid);
    tamper("UPDATE audit_events SET seq = 4 WHERE vid = ?", a.vid);
    expect((await verify(log)).firstBad).toEqual({ seq: 3, reason: expect.stringContaining("HMAC") });
  });

  it("names a truncated tail against the signed checkpoint", async () => {
    const log = await tenantLog("verify-truncate");
    const size = f.services.db.auditLog.size(log);
    tamper("DELETE FROM audit_events WHERE tenant_id = ? AND seq >= ?", log, size - 3);
    expect((await verify(log)).firstBad).toEqual({
      seq: size - 3,
      reason: expect.stringContaining("events were removed from the end"),
    });
  });

  it("names an event re-signed with another key", async () => {
    const log = await tenantLog("verify-resign");
    const row = raw.prepare("SELECT payload FROM audit_events WHERE tenant_id = ? AND seq = 6").get(log) as {
      payload: string;
    };
    const forgedSig = createHmac("sha256", randomBytes(32)).update(row.payload).digest();
    tamper("UPDATE audit_events SET signature = ? WHERE tenant_id = ? AND seq = 6", forgedSig, log);
    expect((await verify(log)).firstBad?.seq).toBe(6);
  });

  it("names an event rewritten by a holder of the audit key: HMAC and leaf hash redone, only the signed checkpoint tells", async () => {
    const log = cleanLog;
    expect((await verify(log)).ok).toBe(true);
    // The audit key, derived the way the product derives it (an insider with the master key can do this).
    const mac = await f.services.crypto.mac("audit-hmac").then((key) => (data: Uint8Array) => key.mac(data));
    const original = f.services.db.auditLog.page(log, 7, 1)[0] as AuditRow;
    const edited = { ...original, payload: JSON.stringify({ nodeId: "someone-else" }) };
    const signature = mac(signatureInput(edited));
    const leafHash = leafHashOf({ ...edited, signature });
    tamper(
      "UPDATE audit_events SET payload = ?, signature = ?, leaf_hash = ? WHERE tenant_id = ? AND seq = 7",
      edited.payload,
      signature,
      leafHash,
      log,
    );
    // Every row is self-consistent now: the HMAC and leaf checks pass, the Merkle root at the checkpoint does not.
    const checkpoint = f.services.db.auditLog.latestCheckpoint(log);
    expect(checkpoint?.size).toBeGreaterThan(7);
    expect(await verify(log)).toMatchObject({
      ok: false,
      firstBad: {
        seq: (checkpoint?.size ?? 0) - 1,
        reason: `the log up to event ${(checkpoint?.size ?? 0) - 1} no longer matches its signed checkpoint (an event at or before it was changed, added or removed)`,
      },
    });
  });

  it("refuses a checkpoint signed by another key, and a third party checks checkpoints with the public key alone", async () => {
    const log = await tenantLog("verify-checkpoint");
    const { origin, verifierKey } = await logKeys(f.services.db, f.services.crypto, log);
    const cp = f.services.db.auditLog.latestCheckpoint(log);
    expect(cp).toBeDefined();
    expect(verifyCheckpoint(cp?.note ?? "", verifierKey, origin).size).toBe(cp?.size);
    expect(origin).toBe(checkpointOrigin(f.services.db.installationId(), log));
    const impostor = newKeyPair(origin);
    const forged = signCheckpoint(
      { origin, size: cp?.size ?? 0, rootHash: randomBytes(32), time: new Date(Math.floor(Date.now() / 1000) * 1000) },
      impostor.signer,
    );
    raw.prepare("UPDATE audit_checkpoints SET note = ? WHERE tenant_id = ? AND size = ?").run(forged, log, cp?.size);
    expect((await verify(log)).firstBad?.reason).toContain("does not verify with the installation key");
  });

  it("serves verification and checkpoints over the API, each caller its own log", async () => {
    const t = await f.createTenant("verify-api");
    const token = t.admin.tokens.accessToken;
    expect((await f.call("POST", "/api/audit/checkpoints", { token })).status).toBe(403);
    expect((await f.call("POST", "/api/audit/checkpoints", { token: f.root.tokens.accessToken })).status).toBe(200);
    const report = (await (await f.call("GET", "/api/audit/verify", { token })).json()) as {
      report: { ok: boolean; log: string };
    };
    expect(report.report).toMatchObject({ ok: true, log: t.tenantId });
    const listed = (await (await f.call("GET", "/api/audit/checkpoints", { token })).json()) as {
      origin: string;
      verifierKey: string;
      checkpoints: { size: number; note: string }[];
    };
    const latest = listed.checkpoints.at(-1);
    expect(latest).toBeDefined();
    expect(verifyCheckpoint(latest?.note ?? "", listed.verifierKey, listed.origin).size).toBe(latest?.size);
    expect((await f.call("GET", "/api/audit/verify?log=platform", { token })).status).toBe(404);
    const platform = (await (
      await f.call("GET", "/api/audit/verify?log=platform", { token: f.root.tokens.accessToken })
    ).json()) as { report: { ok: boolean; log: string } };
    expect(platform.report).toMatchObject({ ok: true, log: "platform" });
    const member = await f.createUser(t.admin, { role: "member" }, "verify-api");
    expect((await f.call("GET", "/api/audit/verify", { token: member.tokens.accessToken })).status).toBe(403);
  });

  it("serves inclusion and consistency proofs that check against the signed checkpoints", async () => {
    const t = await f.createTenant("verify-proofs");
    const token = t.admin.tokens.accessToken;
    const project = (
      (await (await f.call("POST", "/api/projects", { token, body: { name: "P" } })).json()) as {
        project: { id: string };
      }
    ).project.id;
    await makeCheckpoints(f.services.db, f.services.crypto, f.services.auditAnchor);
    for (let i = 0; i < 5; i++)
      await f.call("POST", `/api/projects/${project}/nodes`, { token, body: { type: "note", title: `n${i}` } });
    await makeCheckpoints(f.services.db, f.services.crypto, f.services.auditAnchor);
    const listed = (await (await f.call("GET", "/api/audit/checkpoints", { token })).json()) as {
      origin: string;
      verifierKey: string;
      checkpoints: { size: number; note: string }[];
    };
    const [older, newer] = listed.checkpoints.map((cp) => verifyCheckpoint(cp.note, listed.verifierKey, listed.origin));
    expect(older && newer && older.size < newer.size).toBe(true);
    const b64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "base64"));
    const inc = (await (
      await f.call("GET", `/api/audit/proofs/inclusion?seq=2&size=${newer?.size}`, { token })
    ).json()) as { leafHash: string; proof: string[] };
    expect(
      verifyInclusion(b64(inc.leafHash), 2, newer?.size ?? 0, inc.proof.map(b64), newer?.rootHash ?? new Uint8Array()),
    ).toBe(true);
    expect(
      verifyInclusion(b64(inc.leafHash), 3, newer?.size ?? 0, inc.proof.map(b64), newer?.rootHash ?? new Uint8Array()),
    ).toBe(false);
    const con = (await (
      await f.call("GET", `/api/audit/proofs/consistency?from=${older?.size}&to=${newer?.size}`, { token })
    ).json()) as { proof: string[] };
    expect(
      verifyConsistency(
        older?.size ?? 0,
        newer?.size ?? 0,
        older?.rootHash ?? new Uint8Array(),
        newer?.rootHash ?? new Uint8Array(),
        con.proof.map(b64),
      ),
    ).toBe(true);
    expect(
      (await f.call("GET", `/api/audit/proofs/inclusion?seq=0&size=${(newer?.size ?? 0) - 1}`, { token })).status,
    ).toBe(422);
    const verified = raw
      .prepare("SELECT payload FROM audit_events WHERE tenant_id = ? AND event = 'audit.verified'")
      .all(t.tenantId);
    expect(verified).toEqual([]);
    await f.call("GET", "/api/audit/verify", { token });
    expect(
      raw
        .prepare("SELECT count(*) AS n FROM audit_events WHERE tenant_id = ? AND event = 'audit.verified'")
        .get(t.tenantId),
    ).toEqual({ n: 1 });
  });
});
