/**
 * test/system-tools.sh, which `npm test` and CI run first: with every tool present it is silent;
 * as a user who cannot install, with tools missing, it stops at once with the one line to run.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT, testDir } from "../helpers.js";

const SCRIPT = join(ROOT, "test", "system-tools.sh");
const isRoot = process.getuid?.() === 0;

describe("test/system-tools.sh", () => {
  it("passes silently when every tool is installed (the suite needs them all)", () => {
    const result = spawnSync("/bin/sh", [SCRIPT], { encoding: "utf8" });
    expect(result.stderr).toBe("");
    expect(result.stdout).toBe("");
    expect(result.status).toBe(0);
  });

  it("stops a non-root user with one line naming the apt-get install, and installs nothing", () => {
    // A PATH on which only `id` exists: every tool is missing.
    const bin = testDir("vecto-path-");
    symlinkSync("/usr/bin/id", join(bin, "id"));
    chmodSync(bin, 0o755);
    const env = { PATH: bin };
    // As root, drop to nobody first: root would install the packages instead.
    const result = isRoot
      ? spawnSync("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "/bin/sh", SCRIPT], {
          encoding: "utf8",
          env,
        })
      : spawnSync("/bin/sh", [SCRIPT], { encoding: "utf8", env });
    expect(result.status).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toBe(
      "npm test needs Debian packages that are missing; run: sudo apt-get install -y softhsm2 shellcheck systemd strace iproute2 openssl curl jq\n",
    );
  });
});
