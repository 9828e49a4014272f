// Loads src/'s text assets (.sql migrations, .txt word lists) as `export default "<text>"`, exactly as
// the esbuild bundle (loader "text") and vitest.config.ts do, for `node --import tsx` runs of bench/.
import { register } from "node:module";

const hook = `
import { readFile } from "node:fs/promises";
export async function load(url, context, nextLoad) {
  if (url.startsWith("file:") && (url.endsWith(".sql") || url.endsWith(".txt"))) {
    const text = await readFile(new URL(url), "utf8");
    return { format: "module", source: "export default " + JSON.stringify(text) + ";", shortCircuit: true };
  }
  return nextLoad(url, context);
}`;
register(`data:text/javascript,${encodeURIComponent(hook)}`);
