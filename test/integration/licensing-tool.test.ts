/**
 * The vendor's tool end to end, as the vendor runs it (`node --import tsx licensing/cli.ts`, what
 * `npm run licensing --` runs): keygen, issue, and an appliance built with that public key (the
 * product's wiring, openServices' vendorKeys) accepts the license; the appliance's usage report is
 * verified by the tool, and tampered copies make it exit non-zero naming what was done.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addDays, dayOf, type SignedSnapshot, type UsageReport } from "../../src/usage/report-format.js";
import { cleanEnv, ROOT, tempDir } from "../helpers.js";
import { identityFixture, STRONG_PASSWORD, type Fixture } from "../identity-fixture.js";

const DAY = 86_400_000;

function tool(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "licensing", "cli.ts"), ...args], {
    cwd: ROOT,
    env: cleanEnv(),
    encoding: "utf8",
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("vendor licensing tool", () => {
  const dir = tempDir("vecto-licensing-");
  const keys = join(dir.path, "keys");
  const privateKey = join(keys, "vendor-license-key.pem");
  const publicKey = join(keys, "vendor-license-key.pub.pem");
  const start = new Date();
  let clock = start;
  const d0 = dayOf(start);
  let key: { kid: string; publicKey: string };
  let f: Fixture;
  let report: UsageReport;
  const reportFile = join(dir.path, "report.json");
  const secondLicense = join(dir.path, "acme-2.lic");

  beforeAll(() => {
    const generated = tool(["keygen", "--out", keys, "--json"]);
    expect(generated.status, generated.stderr).toBe(0);
    key = JSON.parse(generated.stdout) as { kid: string; publicKey: string };
  });
  afterAll(() => {
    f?.close();
    dir.cleanup();
  });

  it("keygen: an Ed25519 pair, the private key 0600, the kid from the public key; never overwrites", () => {
    expect(key.kid).toMatch(/^[0-9a-f]{16}$/);
    expect(statSync(privateKey).mode & 0o777).toBe(0o600);
    expect(readFileSync(privateKey, "utf8")).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(readFileSync(publicKey, "utf8")).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    const again = tool(["keygen", "--out", keys]);
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/exists; refusing to overwrite a key/);
  });

  it("issue from a spec file; verify-license checks it against the vendor keys", () => {
    const spec = join(dir.path, "acme.json");
    writeFileSync(
      spec,
      JSON.stringify({
        licenseId: "LIC-ACME-2026",
        licensee: "Acme Robotics NV",
        edition: "enterprise",
        deploymentMode: "appliance",
        limits: { tenants: 3, users: 10, agents: 2 },
        features: ["hsm"],
        expiresAt: dayOf(new Date(start.getTime() + 365 * DAY)),
        graceDays: 30,
        sequence: 1,
      }),
    );
    const issued = tool(["issue", "--key", privateKey, "--spec", spec, "--out", join(dir.path, "acme.lic")]);
    expect(issued.status, issued.stderr).toBe(0);
    expect(issued.stderr).toContain(`issued LIC-ACME-2026 (sequence 1) for Acme Robotics NV`);
    expect(issued.stderr).toContain(`signed with key ${key.kid}`);
    const checked = tool(["verify-license", join(dir.path, "acme.lic"), "--vendor-pubkey", publicKey]);
    expect(checked.status, checked.stderr).toBe(0);
    expect(JSON.parse(checked.stdout)).toMatchObject({
      kid: key.kid,
      payload: { licenseId: "LIC-ACME-2026", limits: { tenants: 3, users: 10, agents: 2 } },
    });
    // Not one of the keys compiled into the product: without the extra key it is refused.
    const foreign = tool(["verify-license", join(dir.path, "acme.lic")]);
    expect(foreign.status).toBe(1);
    expect(foreign.stderr).toMatch(new RegExp(`signed with key ${key.kid}, which this build does not trust`));
    // A bad spec is refused with the field named, and nothing is signed.
    const bad = tool(["issue", "--key", privateKey, "--spec", spec, "--mode", "cloud"]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/^vecto-licensing: invalid license spec: deploymentMode:/);
  });

  it("the appliance built with that public key accepts the license; a renewal issued with flags too", async () => {
    f = await identityFixture({ vendorKeys: [key], now: () => clock });
    const put = await f.call("PUT", "/api/license", {
      token: f.root.tokens.accessToken,
      body: { license: readFileSync(join(dir.path, "acme.lic"), "utf8") },
    });
    expect(put.status, await put.clone().text()).toBe(200);
    expect(await put.json()).toMatchObject({
      state: "valid",
      license: { licenseId: "LIC-ACME-2026", licensee: "Acme Robotics NV", kid: key.kid, deploymentMode: "appliance" },
    });

    const acme = await f.createTenant("tool-acme");
    for (const role of ["member", "viewer"] as const) await f.createUser(acme.admin, { role }, acme.slug);
    for (let day = 0; day < 3; day++) {
      clock = new Date(start.getTime() + day * DAY);
      expect((await f.services.usage.snapshot()).status).toBe("recorded");
    }
    // A renewal with fewer seats than are in use: installed (nothing is deleted), the overage shows in the report.
    const issued = tool([
      "issue",
      "--key",
      privateKey,
      "--license-id",
      "LIC-ACME-2026-B",
      "--licensee",
      "Acme Robotics NV",
      "--edition",
      "standard",
      "--mode",
      "appliance",
      "--tenants",
      "3",
      "--users",
      "2",
      "--agents",
      "1",
      "--expires",
      dayOf(new Date(start.getTime() + 400 * DAY)),
      "--sequence",
      "2",
      "--out",
      secondLicense,
    ]);
    expect(issued.status, issued.stderr).toBe(0);
    const token = (await (await f.login(undefined, f.root.email, STRONG_PASSWORD)).json()) as { accessToken: string };
    const renewed = await f.call("PUT", "/api/license", {
      token: token.accessToken,
      body: { license: readFileSync(secondLicense, "utf8") },
    });
    expect(renewed.status, await renewed.clone().text()).toBe(200);
    clock = new Date(start.getTime() + 3 * DAY);
    expect((await f.services.usage.snapshot()).status).toBe("recorded");

    const res = await f.call("GET", `/api/usage/report?from=${addDays(d0, -1)}&to=${addDays(d0, 2)}`, {
      token: ((await (await f.login(undefined, f.root.email, STRONG_PASSWORD)).json()) as { accessToken: string })
        .accessToken,
    });
    expect(res.status).toBe(200);
    report = (await res.json()) as UsageReport;
    expect(report.license).toMatchObject({ licenseId: "LIC-ACME-2026-B", limits: { users: 2 } });
    writeFileSync(reportFile, JSON.stringify(report, null, 2));
  });

  it("verify-usage: OK for the report as made, with the overage against the license and no gaps", () => {
    const result = tool([
      "verify-usage",
      reportFile,
      "--license",
      secondLicense,
      "--vendor-pubkey",
      publicKey,
      "--pubkey-of-installation",
      report.installationPublicKey,
    ]);
    expect(result.status, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^OK: signatures and chain verify\n/);
    expect(result.stdout).toContain(`installation: ${report.installationId}`);
    expect(result.stdout).toContain(`period: ${addDays(d0, -1)} to ${addDays(d0, 2)}, 4 day(s) with a snapshot`);
    expect(result.stdout).toContain("missing days: none");
    expect(result.stdout).toContain(
      `overage: ${addDays(d0, -1)} users 3 of 2; ${d0} users 3 of 2; ${addDays(d0, 1)} users 3 of 2; ${addDays(d0, 2)} users 3 of 2`,
    );
    expect(result.stdout).toContain(`chain head: ${report.chain.head ?? ""}`);
    const asJson = tool(["verify-usage", reportFile, "--json"]);
    expect(asJson.status).toBe(0);
    expect(JSON.parse(asJson.stdout)).toMatchObject({ ok: true, days: 4, problems: [] });
  });

  it("verify-usage exits 1 on tampering and says what was done: an edited count, a dropped day, reordered days, a swapped key", () => {
    const variants: [string, (r: UsageReport) => void, string][] = [
      [
        "edited",
        (r) => void ((r.snapshots[1] as SignedSnapshot).counts.users.active = 1),
        `problem: day ${d0} (snapshot 2): the snapshot signature does not verify: its content was altered, or it was signed by another key`,
      ],
      [
        "dropped",
        (r) => void (r.snapshots.splice(1, 1), r.chain.hashes.splice(1, 1)),
        `problem: day ${addDays(d0, 1)} (snapshot 3): the chain skips from snapshot 1 to 3: 1 snapshot(s) were removed`,
      ],
      [
        "reordered",
        (r) =>
          void ([r.snapshots[1], r.snapshots[2]] = [
            r.snapshots[2] as SignedSnapshot,
            r.snapshots[1] as SignedSnapshot,
          ]),
        `problem: days out of order: day ${d0} (snapshot 2) comes after day ${addDays(d0, 1)}`,
      ],
      [
        "swapped",
        (r) => void (r.installationPublicKey = Buffer.alloc(32, 9).toString("base64")),
        "problem: the report signature does not verify with the installation key in the report",
      ],
    ];
    for (const [name, tamper, message] of variants) {
      const copy = structuredClone(report);
      tamper(copy);
      const file = join(dir.path, `report-${name}.json`);
      writeFileSync(file, JSON.stringify(copy));
      const result = tool(["verify-usage", file]);
      expect(result.status, name).toBe(1);
      expect(result.stdout, name).toMatch(/^TAMPERED or INVALID: \d+ problem\(s\)\n/);
      expect(result.stdout, name).toContain(message);
      expect(result.stderr.trim(), name).toMatch(
        /^vecto-licensing: .*report-\w+\.json: the report does not verify \(\d+ problem\(s\)\)$/,
      );
    }
    // The genuine report against another installation's pinned key: a swapped key.
    const pinned = tool([
      "verify-usage",
      reportFile,
      "--pubkey-of-installation",
      Buffer.alloc(32, 9).toString("base64"),
    ]);
    expect(pinned.status).toBe(1);
    expect(pinned.stdout).toMatch(/not the pinned key [0-9a-f]{16}: the signing key was swapped/);
  });
});
