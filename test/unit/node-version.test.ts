/** The supported Node versions: one rule for start-up and package.json's engines. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SUPPORTED_NODE, unsupportedNode } from "../../src/node-version.js";
import { ROOT } from "../helpers.js";

describe("supported Node versions", () => {
  it("accepts 20.19+, 22.12+ and anything newer", () => {
    for (const version of ["20.19.0", "20.20.2", "v20.19.1", "22.12.0", "22.20.0", "23.0.0", "24.11.1"]) {
      expect(unsupportedNode(version), version).toBeNull();
    }
  });

  it("refuses older releases (no zlib.crc32 before 20.15, no vite 8 before 20.19) and 21, in one line", () => {
    for (const version of ["18.20.4", "20.12.2", "20.15.0", "20.18.3", "21.7.3", "22.11.0"]) {
      const problem = unsupportedNode(version);
      expect(problem, version).toMatch(
        new RegExp(
          `^vecto: Node\\.js ${version.replace(/\./g, "\\.")} is not supported; install Node\\.js \\^20\\.19\\.0 or >=22\\.12\\.0$`,
        ),
      );
    }
  });

  it("is the rule package.json's engines states", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { engines: { node: string } };
    expect(pkg.engines.node).toBe(SUPPORTED_NODE);
  });
});
