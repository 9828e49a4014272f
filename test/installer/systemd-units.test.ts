/**
 * systemd/vecto.service and its drop-ins, checked by systemd's own tools without a running systemd
 * (CI is a plain container; PID 1 is not systemd):
 *
 * - `systemd-analyze verify --root=R vecto.service` reports nothing. R is a throwaway root with the
 *   unit (and a drop-in), the distribution's units (sysinit.target and friends, which verify loads)
 *   and an executable at /opt/vecto/bin/vecto: a copy of /usr/bin/true (and the host's /bin/kill for
 *   ExecReload=). verify only checks that ExecStart= names an executable file; it never runs it. The real binary would tie a unit-syntax
 *   check to a four-minute build; the binary itself is tested in test/e2e and test/installer.
 * - `systemd-analyze security --offline=true --root=R vecto.service`: overall exposure at most 2.5,
 *   for the unit alone and with each shipped drop-in (docs/install.md lists the scores).
 * - the directives docs/install.md promises are there, and MemoryDenyWriteExecute (which V8's JIT
 *   cannot live with) is not.
 */
import { copyFileSync, cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasCommand, ROOT, run } from "./fixture.js";
import { tempDir } from "../helpers.js";

const UNIT = join(ROOT, "systemd", "vecto.service");
const DROPINS = join(ROOT, "systemd", "vecto.service.d");
const MAX_EXPOSURE = 2.5;
const SYSTEM_UNITS = "/usr/lib/systemd/system";

let root: string;

/** A fresh root with the unit and, optionally, one drop-in installed as vecto.service.d/<name>.conf. */
function unitRoot(dropIn?: string, unitText: string = readFileSync(UNIT, "utf8")): string {
  rmSync(root, { recursive: true, force: true });
  mkdirSync(join(root, "etc", "systemd", "system", "vecto.service.d"), { recursive: true });
  mkdirSync(join(root, "opt", "vecto", "bin"), { recursive: true });
  mkdirSync(join(root, "usr", "lib", "systemd"), { recursive: true });
  cpSync(SYSTEM_UNITS, join(root, "usr", "lib", "systemd", "system"), { recursive: true });
  copyFileSync("/usr/bin/true", join(root, "opt", "vecto", "bin", "vecto"));
  // ExecReload=/bin/kill -HUP $MAINPID: verify checks that /bin/kill is an executable in the root, as on the host.
  mkdirSync(join(root, "bin"), { recursive: true });
  copyFileSync("/bin/kill", join(root, "bin", "kill"));
  writeFileSync(join(root, "etc", "systemd", "system", "vecto.service"), unitText);
  if (dropIn)
    copyFileSync(
      join(DROPINS, dropIn),
      join(root, "etc", "systemd", "system", "vecto.service.d", `${dropIn.replace(/\.conf(\.example)?$/, "")}.conf`),
    );
  return root;
}

function verify(r: string): { status: number | null; output: string } {
  const res = run("systemd-analyze", ["verify", `--root=${r}`, "vecto.service"]);
  return { status: res.status, output: `${res.stdout}${res.stderr}`.trim() };
}

function exposure(r: string): { score: number; report: string } {
  const res = run("systemd-analyze", ["security", "--offline=true", `--root=${r}`, "--no-pager", "vecto.service"]);
  const match = /Overall exposure level for vecto\.service: (\d+(?:\.\d+)?)/.exec(res.stdout);
  if (!match)
    throw new Error(`no exposure level in systemd-analyze output (exit ${res.status}):\n${res.stdout}${res.stderr}`);
  return { score: Number(match[1]), report: res.stdout };
}

describe("systemd units", () => {
  beforeAll(() => {
    // npm test installs systemd (for systemd-analyze) when it is missing: never skip silently.
    if (!hasCommand("systemd-analyze"))
      throw new Error("systemd-analyze is not installed (apt-get install systemd; npm test does it)");
    root = tempDir("vecto-unit-").path;
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("systemd-analyze verify reports nothing for the unit and for each drop-in", () => {
    for (const dropIn of [
      undefined,
      "pkcs11.conf",
      "low-port.conf.example",
      "usb-hsm.conf.example",
      "softhsm.conf.example",
    ]) {
      const result = verify(unitRoot(dropIn));
      expect(result, `verify with ${dropIn ?? "no drop-in"}`).toEqual({ status: 0, output: "" });
    }
  });

  it("the verify check is not vacuous: it reports an unknown directive and a missing binary", () => {
    const typo = verify(unitRoot(undefined, readFileSync(UNIT, "utf8").replace("ProtectHome=yes", "ProtectHomes=yes")));
    expect(typo.output).toMatch(/Unknown key 'ProtectHomes'/);
    rmSync(join(unitRoot(), "opt", "vecto", "bin", "vecto"));
    const missing = verify(root);
    expect(missing.status).not.toBe(0);
    expect(missing.output).toMatch(/\/opt\/vecto\/bin\/vecto is not executable/);
  });

  it(`overall exposure is at most ${MAX_EXPOSURE}, alone and with each drop-in`, () => {
    const scores: Record<string, number> = {};
    for (const dropIn of [
      undefined,
      "pkcs11.conf",
      "low-port.conf.example",
      "usb-hsm.conf.example",
      "softhsm.conf.example",
    ]) {
      const { score, report } = exposure(unitRoot(dropIn));
      scores[dropIn ?? "vecto.service"] = score;
      expect(score, `${dropIn ?? "vecto.service"}:\n${report}`).toBeLessThanOrEqual(MAX_EXPOSURE);
    }
    console.log(`systemd-analyze security --offline=true: ${JSON.stringify(scores)}`);
  });

  it("the score parser reads a weak unit as weak (the check can fail)", () => {
    const weak = "[Service]\nExecStart=/opt/vecto/bin/vecto serve\n";
    expect(exposure(unitRoot(undefined, weak)).score).toBeGreaterThan(MAX_EXPOSURE);
  });

  it("has the directives docs/install.md promises", () => {
    const unit = readFileSync(UNIT, "utf8");
    const settings = new Map<string, string[]>();
    for (const line of unit.split("\n")) {
      const m = /^([A-Za-z]+)=(.*)$/.exec(line);
      if (m) settings.set(m[1] as string, [...(settings.get(m[1] as string) ?? []), m[2] as string]);
    }
    const one = (key: string): string | undefined => settings.get(key)?.at(-1);
    expect(one("Type")).toBe("exec");
    expect(one("ExecStart")).toBe("/opt/vecto/bin/vecto serve");
    expect(one("ExecReload")).toBe("/bin/kill -HUP $MAINPID"); // systemctl reload: the certificate, without a restart
    expect([one("User"), one("Group")]).toEqual(["vecto", "vecto"]);
    expect(settings.has("DynamicUser")).toBe(false);
    expect(one("EnvironmentFile")).toBe("-/etc/vecto/vecto.env");
    expect(settings.get("LoadCredential")).toEqual(["master-key:/etc/vecto/credentials/master-key"]);
    expect([
      one("StateDirectory"),
      one("StateDirectoryMode"),
      one("CacheDirectory"),
      one("ConfigurationDirectory"),
    ]).toEqual(["vecto", "0700", "vecto", "vecto"]);
    expect([one("Restart"), one("StartLimitBurst"), one("StartLimitIntervalSec"), one("UMask")]).toEqual([
      "on-failure",
      "5",
      "300",
      "0077",
    ]);
    for (const key of [
      "NoNewPrivileges",
      "ProtectHome",
      "PrivateTmp",
      "PrivateDevices",
      "PrivateUsers",
      "ProtectClock",
      "ProtectHostname",
      "ProtectKernelTunables",
      "ProtectKernelModules",
      "ProtectKernelLogs",
      "ProtectControlGroups",
      "RestrictNamespaces",
      "RestrictRealtime",
      "RestrictSUIDSGID",
      "LockPersonality",
      "RemoveIPC",
    ]) {
      expect(one(key), key).toBe("yes");
    }
    expect([one("ProtectSystem"), one("ProtectProc"), one("ProcSubset"), one("CapabilityBoundingSet")]).toEqual([
      "strict",
      "invisible",
      "pid",
      "",
    ]);
    expect(one("RestrictAddressFamilies")).toBe("AF_UNIX AF_INET AF_INET6");
    expect(settings.get("SystemCallFilter")?.[0]).toBe("@system-service");
    expect(one("SystemCallArchitectures")).toBe("native");
    expect(settings.has("MemoryDenyWriteExecute")).toBe(false);

    const pkcs11 = readFileSync(join(DROPINS, "pkcs11.conf"), "utf8");
    expect(pkcs11).toMatch(/^LoadCredential=pkcs11-pin:\/etc\/vecto\/credentials\/pkcs11-pin$/m);
    // The fallback that makes the master-key credential optional with an HSM (systemd.exec(5)).
    expect(pkcs11).toMatch(/^SetCredential=master-key:\S+$/m);
  });
});
