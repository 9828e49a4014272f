import { readFileSync } from "node:fs";
import { defineConfig, type Plugin } from "vitest/config";

// Migrations and word lists are imported as text, exactly as the esbuild bundle does (loader "text").
const textAssets: Plugin = {
  name: "text-assets",
  enforce: "pre",
  load(id) {
    if (!id.endsWith(".sql") && !id.endsWith(".txt")) return null;
    return `export default ${JSON.stringify(readFileSync(id, "utf8"))};`;
  },
};

// .ci/run asks for a JSON report too, to print one plain "N passed, N failed" line.
const jsonReport = process.env.VITEST_JSON_REPORT;

export default defineConfig({
  plugins: [textAssets],
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    reporters: jsonReport ? ["default", ["json", { outputFile: jsonReport }]] : ["default"],
  },
});
