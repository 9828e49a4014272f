/**
 * Builds dist/vecto.cjs once before the suite: CLI and server-process tests run the same bundle
 * that `npm start` runs, so what is tested is what ships.
 */
import { execFileSync } from "node:child_process";
import { resolve } from "node:path";

export default function setup(): void {
  const root = resolve(import.meta.dirname, "..");
  execFileSync(process.execPath, [resolve(root, "appliance", "bundle.mjs")], { cwd: root, stdio: "inherit" });
}
