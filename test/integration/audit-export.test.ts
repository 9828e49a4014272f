/** Exporting the audit trail: GET /api/audit (JSON Lines, CSV, filters, tenancy, redaction, self-audit) and `vecto audit export`. */
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CSV_COLUMNS, csvCell } from "../../src/audit/export.js";
import { signatureInput } from "../../src/audit/seal.js";
import { loadConfig } from "../../src/config.js";
import type { AuditRow } from "../../src/db/repositories/audit-log.js";
import { createLogger } from "../../src/log.js";
import { openServices } from "../../src/services.js";
import { runCli, tempDir } from "../helpers.js";
import { parseJsonl, signedRowOf, type AuditLine } from "../audit-lines.js";
import { identityFixture, type Account, type Fixture, type TenantAccount } from "../identity-fixture.js";

/** A strict RFC 4180 reader (quoted cells, doubled quotes, CRLF rows), so the test does not trust the writer. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  const endRow = (): void => {
    row.push(cell);
    rows.push(row);
    row = [];
    cell = "";
  };
  for (let i = 0; i < text.length; i += 1) {
    const ch = text[i] as string;
    const pair = ch + (text[i + 1] ?? "");
    if (quoted && pair === '""') {
      cell += '"';
      i += 1;
    } else if (quoted) {
      if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') {
      quoted = true;
    } else if (ch === ",") {
      row.push(cell);
      cell = "";
    } else if (pair === "\r\n") {
      endRow();
      i += 1;
    } else {
      cell += ch;
    }
  }
  expect(cell === "" && row.length === 0 && !quoted, "CSV ends with CRLF after a complete row").toBe(true);
  return rows;
}

/** The documented inverse of the formula guard: one leading apostrophe is dropped. */
const unescapeCell = (cell: string): string => (cell.startsWith("'") ? cell.slice(1) : cell);

const FORMULA_REASON = '=HYPERLINK("http://evil.example/","click"),1';

describe("GET /api/audit", () => {
  let f: Fixture;
  let acme: TenantAccount;
  let other: TenantAccount;
  let member: Account;
  let viewer: Account;
  let auditor: Account;
  let mac: (data: Uint8Array) => Uint8Array;

  const get = (token: string, query = ""): Promise<Response> => f.call("GET", `/api/audit${query}`, { token });
  async function lines(token: string, query = ""): Promise<AuditLine[]> {
    const res = await get(token, query);
    expect(res.status, await res.clone().text()).toBe(200);
    return parseJsonl(await res.text());
  }
  /** A later export also holds what was appended since (the exports' own events): compare up to the earlier one's end. */
  const upTo = (later: AuditLine[], earlier: AuditLine[]): AuditLine[] =>
    later.filter((l) => l.seq <= (earlier.at(-1)?.seq ?? -1));
  const exportedEvents = (tenantId: string): AuditRow[] =>
    f.services.db.auditLog.filtered(tenantId, { event: "audit.exported", afterSeq: -1, limit: 10_000 });

  beforeAll(async () => {
    f = await identityFixture();
    mac = await f.services.crypto.mac("audit-hmac").then((key) => (data: Uint8Array) => key.mac(data));
    acme = await f.createTenant("export-acme");
    other = await f.createTenant("export-other");
    member = await f.createUser(acme.admin, { role: "member" }, acme.slug);
    viewer = await f.createUser(acme.admin, { role: "viewer" }, acme.slug);
    auditor = await f.createUser(acme.admin, { role: "member", auditor: true }, acme.slug);
    const project = (await (
      await f.call("POST", "/api/projects", { token: member.tokens.accessToken, body: { name: "Exported" } })
    ).json()) as { project: { id: string } };
    const nodeIds: string[] = [];
    for (const title of ["one", "two", "three"]) {
      const res = await f.call("POST", `/api/projects/${project.project.id}/nodes`, {
        token: member.tokens.accessToken,
        body: { type: "idea", title },
      });
      nodeIds.push(((await res.json()) as { node: { id: string } }).node.id);
    }
    await f.login(acme.slug, acme.admin.email, "not-the-password");
    // An erasure records its reason: text a user typed, in a security payload, as a spreadsheet formula.
    const erased = nodeIds.at(-1) as string;
    expect((await f.call("DELETE", `/api/nodes/${erased}`, { token: acme.admin.tokens.accessToken })).status).toBe(200);
    expect(
      (
        await f.call("POST", `/api/nodes/${erased}/erase`, {
          token: acme.admin.tokens.accessToken,
          body: { reason: FORMULA_REASON },
        })
      ).status,
    ).toBe(200);
    await f.call("POST", "/api/projects", { token: other.admin.tokens.accessToken, body: { name: "Other's project" } });
  });
  afterAll(() => f.close());

  it("streams the tenant's whole log as JSON Lines in seq order, each line the signed event", async () => {
    const res = await get(acme.admin.tokens.accessToken);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/x-ndjson; charset=utf-8");
    expect(res.headers.get("content-disposition")).toMatch(
      /^attachment; filename="vecto-audit-export-acme-\d{8}T\d{6}Z\.jsonl"$/,
    );
    const all = parseJsonl(await res.text());
    expect(all.map((l) => l.seq)).toEqual(all.map((_, i) => i));
    expect(new Set(all.map((l) => l.log))).toEqual(new Set([acme.tenantId]));
    expect(all.map((l) => l.event)).toEqual(
      expect.arrayContaining([
        "tenant.created",
        "user.created",
        "project.created",
        "node.created",
        "auth.login_failed",
      ]),
    );
    for (const line of all.filter((l) => l.sensitivity === "normal"))
      expect(Buffer.from(mac(signatureInput(signedRowOf(line)))).toString("base64")).toBe(line.signature);
  });

  it("records each export (before streaming) in the reader's log, and the export stops just before that event", async () => {
    const before = exportedEvents(acme.tenantId).length;
    const res = await get(acme.admin.tokens.accessToken, "?format=csv&event=node.created");
    const recorded = exportedEvents(acme.tenantId);
    expect(recorded.length).toBe(before + 1); // written already, while the body has not been read
    const own = recorded.at(-1) as AuditRow;
    expect(own).toMatchObject({ sensitivity: "security", actorId: acme.admin.id });
    expect(JSON.parse(own.payload)).toEqual({
      log: acme.tenantId,
      format: "csv",
      event: "node.created",
      redacted: true,
    });
    expect(await res.text()).not.toContain(own.vid);
    const all = await lines(acme.admin.tokens.accessToken);
    expect(all.find((l) => l.vid === own.vid)?.seq).toBe(own.seq);
    expect(all.at(-1)?.seq).toBe((exportedEvents(acme.tenantId).at(-1)?.seq ?? 0) - 1);
  });

  it("CSV: a header row, then one RFC 4180 row per event, the same events as JSON Lines", async () => {
    const res = await get(auditor.tokens.accessToken, "?format=csv");
    expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8; header=present");
    expect(res.headers.get("content-disposition")).toMatch(/filename="vecto-audit-export-acme-\d{8}T\d{6}Z\.csv"$/);
    const text = await res.text();
    const [header, ...rows] = parseCsv(text);
    expect(header).toEqual([...CSV_COLUMNS]);
    const json = upTo(
      await lines(auditor.tokens.accessToken),
      rows.map((r) => ({ seq: Number(r[2]) }) as AuditLine),
    );
    expect(rows.length).toBe(json.length);
    rows.forEach((row, i) => {
      const line = json[i] as AuditLine;
      for (const raw of row.filter((c) => c.startsWith("'")))
        expect(raw, "only escaped cells start with an apostrophe").toMatch(/^'[=+\-@\t\r']/);
      const cell = Object.fromEntries(CSV_COLUMNS.map((name, k) => [name, unescapeCell(row[k] ?? "")]));
      expect(cell).toEqual({
        vid: line.vid,
        log: line.log,
        seq: String(line.seq),
        timestamp: line.timestamp,
        event: line.event,
        scope: line.scope,
        sensitivity: line.sensitivity,
        severity: line.severity,
        actor_type: line.actor.type,
        actor_id: line.actor.id ?? "",
        scope_vid: line.scope_vid ?? "",
        payload: JSON.stringify(line.payload),
        signature: line.signature,
        redacted: "",
        actor_name: line.actor_name ?? "",
      });
    });
    // The typed reason sits inside the quoted JSON payload cell, its quotes doubled; the cell starts with {, not =.
    const erased = rows.find((r) => r[4] === "node.erased") as string[];
    expect((erased[11] as string).startsWith("{")).toBe(true);
    expect(JSON.parse(erased[11] as string)).toMatchObject({ reason: FORMULA_REASON });
    expect(text).toContain(String.raw`""reason"":""=HYPERLINK(\""http://evil.example/\"",\""click\""),1""`);
  });

  it("CSV cells: quoting per RFC 4180 and spreadsheet formulas neutralised with a leading apostrophe", () => {
    expect(csvCell("plain")).toBe("plain");
    expect(csvCell(42)).toBe("42");
    expect(csvCell(null)).toBe("");
    expect(csvCell('say "hi", twice')).toBe('"say ""hi"", twice"');
    expect(csvCell("two\r\nlines")).toBe('"two\r\nlines"');
    expect(csvCell('=HYPERLINK("http://evil.example/","x")')).toBe(`"'=HYPERLINK(""http://evil.example/"",""x"")"`);
    for (const formula of ["=1+1", "+1+1", "-1+1", "@SUM(A1)", "\tx", "\rx"])
      expect(csvCell(formula).replace(/^"/, "")).toMatch(/^'/);
    expect(csvCell("a=b")).toBe("a=b");
    // A base64 signature starts with "+" one time in 64: guarded too, and recoverable.
    expect(csvCell("+e+EHz+0LtcXzcu/HHcsHfF9l/PfuYH7rdIdx+rtsq8=")).toBe(
      "'+e+EHz+0LtcXzcu/HHcsHfF9l/PfuYH7rdIdx+rtsq8=",
    );
    // An apostrophe of the value's own is escaped the same way, so dropping one apostrophe is always right.
    expect(csvCell("'quoted")).toBe("''quoted");
    for (const value of ["=1+1", "'x", "''", "plain", "+AB/="])
      expect(unescapeCell(parseCsv(`${csvCell(value)}\r\n`)[0]?.[0] ?? "")).toBe(value);
  });

  it("filters by event, actor and time range, each narrowing to exactly the matching events", async () => {
    const token = acme.admin.tokens.accessToken;
    const all = await lines(token);
    const check = async (query: string, keep: (l: AuditLine) => boolean): Promise<void> => {
      const got = await lines(token, query);
      const expected = all.filter(keep);
      expect(expected.length, query).toBeGreaterThan(0);
      expect(expected.length, query).toBeLessThan(all.length);
      expect(upTo(got, all), query).toEqual(expected);
      expect(got.every(keep), query).toBe(true);
    };
    await check("?event=node.created", (l) => l.event === "node.created");
    await check(`?actor=${member.id}`, (l) => l.actor.id === member.id);
    const boundary = (all.find((l) => l.event === "project.created") as AuditLine).timestamp;
    await check(`?from=${encodeURIComponent(boundary)}`, (l) => l.timestamp >= boundary);
    await check(`?to=${encodeURIComponent(boundary)}`, (l) => l.timestamp < boundary);
    // An offset is the same instant: normalised before comparing with the stored UTC text.
    const shifted = new Date(Date.parse(boundary) + 2 * 3_600_000).toISOString().replace("Z", "+02:00");
    await check(`?to=${encodeURIComponent(shifted)}`, (l) => l.timestamp < boundary);
    await check(
      `?event=node.created&actor=${member.id}&from=${encodeURIComponent(boundary)}`,
      (l) => l.event === "node.created" && l.actor.id === member.id,
    );
  });

  it("refuses a malformed filter with 400", async () => {
    for (const query of [
      "?from=yesterday",
      "?to=2024-01-01",
      "?event=DROP%20TABLE",
      "?format=xml",
      "?actor=%27%20OR%201",
      "?limit=0",
      "?after=not-a-vid",
      "?smuggled=1",
    ]) {
      const res = await get(acme.admin.tokens.accessToken, query);
      expect(res.status, query).toBe(400);
    }
  });

  it("is refused (403) without audit:read: members and viewers", async () => {
    for (const account of [member, viewer]) {
      const res = await get(account.tokens.accessToken);
      expect(res.status).toBe(403);
      expect(await res.text()).toContain("audit:read");
    }
  });

  it("shows a tenant admin only its own tenant's log, never another tenant's", async () => {
    const mine = await lines(acme.admin.tokens.accessToken);
    const theirs = await lines(other.admin.tokens.accessToken);
    expect(new Set(theirs.map((l) => l.log))).toEqual(new Set([other.tenantId]));
    const myText = JSON.stringify(mine);
    for (const secret of [other.tenantId, other.admin.id, ...theirs.map((l) => l.vid)])
      expect(myText).not.toContain(secret);
    expect(JSON.stringify(theirs)).not.toContain(acme.tenantId);
    expect((await get(acme.admin.tokens.accessToken, "?log=platform")).status).toBe(403);
  });

  it("redacts security payloads for a reader without the auditor capability, keeping vid and signature", async () => {
    const redacted = await lines(acme.admin.tokens.accessToken);
    const full = await lines(auditor.tokens.accessToken);
    const byVid = new Map(full.map((l) => [l.vid, l]));
    const security = redacted.filter((l) => l.sensitivity === "security");
    expect(security.length).toBeGreaterThan(2);
    for (const line of security) {
      expect(line).toMatchObject({ payload: { redacted: true }, redacted: true });
      const original = byVid.get(line.vid) as AuditLine;
      expect(original.signature).toBe(line.signature);
      expect(original.redacted).toBeUndefined();
      // The auditor's copy verifies; the redacted line does not (by design: its payload was withheld).
      expect(Buffer.from(mac(signatureInput(signedRowOf(original)))).toString("base64")).toBe(original.signature);
      expect(Buffer.from(mac(signatureInput(signedRowOf(line)))).toString("base64")).not.toBe(line.signature);
    }
    for (const line of redacted.filter((l) => l.sensitivity === "normal")) expect(line).toEqual(byVid.get(line.vid));
    expect(JSON.stringify(redacted)).not.toContain("evil.example");
    expect(full.find((l) => l.event === "node.erased")?.payload).toMatchObject({ reason: FORMULA_REASON });
    expect(JSON.parse((exportedEvents(acme.tenantId).at(-1) as AuditRow).payload)).toMatchObject({ redacted: false });
  });

  it("gives the platform root the platform tenant's log, and with log=platform the installation log", async () => {
    f.services.identity.events.emit({
      event: "auth.jwt_key_rotated",
      sensitivity: "security",
      severity: "info",
      tenantId: null,
      actor: { type: "system", id: "test" },
      payload: { kid: "k-test" },
    });
    const platformTenant = f.services.db.tenants.platformTenant()?.id;
    const own = await lines(f.root.tokens.accessToken);
    expect(new Set(own.map((l) => l.log))).toEqual(new Set([platformTenant]));
    expect(own.map((l) => l.event)).toContain("auth.setup_completed");
    const res = await get(f.root.tokens.accessToken, "?log=platform");
    expect(res.headers.get("content-disposition")).toMatch(/filename="vecto-audit-platform-/);
    const installation = parseJsonl(await res.text());
    expect(new Set(installation.map((l) => l.log))).toEqual(new Set(["_platform"]));
    expect(installation.at(-1)).toMatchObject({ event: "auth.jwt_key_rotated", redacted: true });
    expect(JSON.parse((exportedEvents(platformTenant ?? "").at(-1) as AuditRow).payload)).toMatchObject({
      log: "_platform",
    });
  });
});

describe("vecto audit export", () => {
  const dir = tempDir("vecto-audit-cli-");
  const cwd = dir.path;
  afterAll(() => dir.cleanup());

  beforeAll(async () => {
    const init = runCli(["init"], { cwd });
    expect(init.status, init.stderr).toBe(0);
    const services = await openServices(loadConfig({ VECTO_ENV_FILE: "/dev/null" }, cwd), createLogger("silent"));
    try {
      for (let i = 0; i < 3; i += 1)
        services.identity.events.emit({
          event: "auth.jwt_key_rotated",
          sensitivity: "security",
          severity: "info",
          tenantId: null,
          actor: { type: "system", id: "test" },
          payload: { kid: `k-${i}`, note: 'line, with "quotes"' },
        });
    } finally {
      services.close();
    }
  });

  it("writes the unredacted log to a 0600 file, ending before its own audit.exported event", () => {
    const out = join(cwd, "audit.jsonl");
    const result = runCli(["audit", "export", "--out", out], { cwd });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toBe("");
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const exported = parseJsonl(readFileSync(out, "utf8"));
    expect(exported.map((l) => l.payload)).toEqual(
      [0, 1, 2].map((i) => ({ kid: `k-${i}`, note: 'line, with "quotes"' })),
    );
    expect(exported.some((l) => l.redacted)).toBe(false);
    const again = parseJsonl(runCli(["audit", "export", "--event", "audit.exported"], { cwd }).stdout);
    expect(again).toHaveLength(1);
    expect(again[0]).toMatchObject({
      log: "_platform",
      seq: 3,
      actor: { type: "system", id: "vecto audit export", name: null },
      actor_name: "vecto audit export",
      payload: { log: "_platform", format: "jsonl", out, redacted: false },
    });
  });

  it("writes CSV to stdout, filtered", () => {
    const result = runCli(
      ["audit", "export", "--format", "csv", "--event", "auth.jwt_key_rotated", "--from", "2000-01-01T00:00:00Z"],
      { cwd },
    );
    expect(result.status, result.stderr).toBe(0);
    const [header, ...rows] = parseCsv(result.stdout);
    expect(header).toEqual([...CSV_COLUMNS]);
    expect(rows.map((r) => JSON.parse(r[11] as string) as unknown)).toEqual(
      [0, 1, 2].map((i) => ({ kid: `k-${i}`, note: 'line, with "quotes"' })),
    );
  });

  it("fails bad input with one line and exit 1", () => {
    for (const args of [
      ["--from", "yesterday"],
      ["--format", "xml"],
      ["--log", "no-such-tenant"],
      ["--event", "nope"],
    ]) {
      const result = runCli(["audit", "export", ...args], { cwd });
      expect(result.status, args.join(" ")).toBe(1);
      expect(result.stderr.trim().split("\n"), args.join(" ")).toHaveLength(1);
      expect(result.stderr).toMatch(/^vecto: /);
      expect(result.stdout).toBe("");
    }
  });

  it("says in --help that the export is unredacted", () => {
    const result = runCli(["audit", "export", "--help"], { cwd });
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("UNREDACTED");
  });
});
