/**
 * Where a frame of a CPU profile of the bundle comes from in the repository. dist/vecto.cjs is
 * built with a linked source map (appliance/bundle.mjs), read with node:module's SourceMap; without
 * one, the `// src/...` and `// node_modules/...` comments esbuild writes before each module's code
 * name the file (not the line). Paths come out relative to the repository: "src/db/write-path.ts",
 * "node_modules/hono/dist/compose.js"; Node's own modules stay "node:internal/...".
 */
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { SourceMap, type SourceMapPayload, type SourceMapping } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";

export interface Location {
  /** Repository-relative path, node:... for Node's own modules, "" for native code and V8's builtins. */
  readonly file: string;
  /** 1-based line in that file; 0 when unknown. */
  readonly line: number;
}

/** From "../src/x.ts", "/work/main/node_modules/p/y.js" or "file:///.../src/x.ts" to "src/x.ts" / "node_modules/p/y.js". */
export function repoPath(path: string): string {
  const plain = path.startsWith("file://") ? fileURLToPath(path) : path;
  const modules = plain.lastIndexOf("node_modules/");
  if (modules >= 0) return plain.slice(modules);
  const src = plain.lastIndexOf("src/");
  if (src >= 0 && (src === 0 || plain[src - 1] === "/")) return plain.slice(src);
  return plain;
}

/** The line ranges of the bundle's modules, from esbuild's per-module comments. */
function moduleComments(bundle: string): { line: number; file: string }[] {
  const marks: { line: number; file: string }[] = [];
  readFileSync(bundle, "utf8")
    .split("\n")
    .forEach((text, i) => {
      const m = /^\/\/ ((?:src|node_modules)\/\S+)$/.exec(text);
      if (m?.[1] !== undefined) marks.push({ line: i, file: m[1] });
    });
  return marks;
}

export interface Locator {
  /** "source map" or "module comments": how bundle frames were mapped. */
  readonly method: string;
  /** url, 0-based line and column as a .cpuprofile gives them. */
  locate(url: string, line: number, column: number): Location;
}

export function bundleLocator(bundle: string): Locator {
  // Node names the main module by its real path.
  const bundleUrls = new Set([pathToFileURL(bundle).href, pathToFileURL(realpathSync(bundle)).href]);
  const mapFile = `${bundle}.map`;
  const map = existsSync(mapFile)
    ? new SourceMap(JSON.parse(readFileSync(mapFile, "utf8")) as SourceMapPayload)
    : undefined;
  const marks = map === undefined ? moduleComments(bundle) : [];
  const inBundle = (line: number, column: number): Location => {
    if (map !== undefined) {
      // Node 20 answers {} where no mapping is found, later versions undefined.
      const entry = map.findEntry(line, column) as Partial<SourceMapping> | undefined;
      if (entry?.originalSource !== undefined)
        return { file: repoPath(entry.originalSource), line: (entry.originalLine ?? -1) + 1 };
      return { file: "dist/vecto.cjs", line: line + 1 };
    }
    let file = "dist/vecto.cjs";
    for (const mark of marks) {
      if (mark.line > line) break;
      file = mark.file;
    }
    return { file, line: 0 };
  };
  return {
    method: map !== undefined ? "source map" : "module comments",
    locate(url, line, column) {
      if (url === "") return { file: "", line: 0 };
      if (bundleUrls.has(url)) return inBundle(line, column);
      if (url.startsWith("node:")) return { file: url, line: line + 1 };
      return { file: repoPath(url), line: line + 1 };
    },
  };
}
