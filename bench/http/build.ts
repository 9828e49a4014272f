/**
 * The server under test is the built bundle (dist/vecto.cjs) and, when it can be made, the single
 * binary (dist/vecto): what ships, not the sources. Each is rebuilt when missing or older than
 * what it is built from, with the default vendor keys as test/global-setup.ts builds it.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

function newestMtime(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return readdirSync(path).reduce((newest, name) => Math.max(newest, newestMtime(join(path, name))), stat.mtimeMs);
}

function stale(root: string, output: string, inputs: readonly string[]): boolean {
  if (!existsSync(output)) return true;
  const built = statSync(output).mtimeMs;
  return inputs.some((input) => newestMtime(join(root, input)) > built);
}

const SOURCES = ["src", "types", "package.json", "appliance/bundle.mjs"];

/** dist/vecto.cjs, rebuilt if missing or stale; returns its path and whether it was rebuilt. */
export function ensureBundle(root: string): { path: string; rebuilt: boolean } {
  const path = join(root, "dist", "vecto.cjs");
  const rebuilt = stale(root, path, SOURCES);
  if (rebuilt)
    execFileSync(process.execPath, [join(root, "appliance", "bundle.mjs"), "--default-vendor-keys"], {
      cwd: root,
      stdio: ["ignore", "ignore", "inherit"],
    });
  return { path, rebuilt };
}

/**
 * dist/vecto (Node SEA), rebuilt if missing or stale (about 10 s here: esbuild, a copy of node,
 * postject). Returns its path, or why there is none; never fails the bench.
 */
export function ensureSea(root: string, timeoutMs: number): { path: string; rebuilt: boolean } | { skipped: string } {
  const path = join(root, "dist", "vecto");
  const rebuilt = stale(root, path, [...SOURCES, "appliance/build-sea.mjs"]);
  if (!rebuilt) return { path, rebuilt };
  try {
    execFileSync(process.execPath, [join(root, "appliance", "build-sea.mjs"), "--default-vendor-keys"], {
      cwd: root,
      stdio: ["ignore", "ignore", "pipe"],
      timeout: timeoutMs,
    });
    return { path, rebuilt };
  } catch (error) {
    const reason = error instanceof Error ? error.message.split("\n")[0] : String(error);
    return { skipped: `appliance/build-sea.mjs failed or took over ${timeoutMs / 1000} s: ${reason}` };
  }
}
