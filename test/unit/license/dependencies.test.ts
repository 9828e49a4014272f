/**
 * The dependency direction between the appliance and the vendor's tool: licensing/ shares only the
 * format modules (src/license/format.ts, src/usage/report-format.ts and what they import), which
 * reach no native addon, no database, no crypto service and no configuration; src/ never imports
 * licensing/.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../../helpers.js";
import { importedModules, sourceFiles } from "../../source-files.js";

/** Every file reachable by relative imports from `entry`, and every package it imports. */
function closure(entry: string): { files: string[]; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string): void => {
    if (files.has(file)) return;
    files.add(file);
    const text = readFileSync(join(ROOT, file), "utf8");
    for (const spec of importedModules({ path: file, text })) {
      if (!spec.startsWith(".")) {
        packages.add(spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : (spec.split("/")[0] ?? spec));
        continue;
      }
      const target = relative(ROOT, resolve(ROOT, dirname(file), spec.replace(/\.js$/, ".ts")));
      if (existsSync(join(ROOT, target))) visit(target.split("\\").join("/"));
      else packages.add(`missing:${target}`);
    }
  };
  visit(entry);
  return { files: [...files].sort(), packages };
}

describe("licensing/ and src/", () => {
  const tool = sourceFiles("licensing");

  it("the vendor's tool reaches only the shared format modules: no native addon, database, crypto service or config", () => {
    expect(tool.map((f) => f.path)).toContain("licensing/cli.ts");
    const { files, packages } = closure("licensing/cli.ts");
    const fromSrc = files.filter((f) => f.startsWith("src/"));
    expect(fromSrc).toEqual([
      "src/crypto/ed25519.ts",
      "src/license/canonical.ts",
      "src/license/format.ts",
      "src/license/state.ts",
      "src/license/vendor-keys.ts",
      "src/usage/report-format.ts",
    ]);
    for (const native of ["better-sqlite3", "argon2", "pkcs11js"]) expect(packages.has(native), native).toBe(false);
    expect([...packages].filter((p) => !p.startsWith("node:")).sort()).toEqual(["canonicalize", "commander", "zod"]);
  });

  it("nothing in src imports licensing/", () => {
    const offenders = sourceFiles("src").filter((f) =>
      importedModules(f).some((m) => /(^|\/)licensing\//.test(m) && !m.includes("/license/")),
    );
    expect(offenders.map((f) => f.path)).toEqual([]);
  });
});
