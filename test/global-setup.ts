/**
 * Builds dist/vecto.cjs once before the suite: CLI and server-process tests run the same bundle
 * that `npm start` runs, so what is tested is what ships.
 */
import { execFileSync } from "node:child_process";
import { resolve } from "node:path";

export default function setup(): void {
  const root = resolve(import.meta.dirname, "..");
  // The default vendor keys, explicitly: a developer's earlier build with --vendor-keys would otherwise stick (bundle.mjs).
  execFileSync(process.execPath, [resolve(root, "appliance", "bundle.mjs"), "--default-vendor-keys"], {
    cwd: root,
    stdio: "inherit",
  });
}
