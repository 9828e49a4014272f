/**
 * Imported first by src/main.ts, so that an unsupported Node stops the process with one line
 * before any other module runs (a missing API would otherwise surface later as a stack trace).
 */
import { unsupportedNode } from "./node-version.js";

const problem = unsupportedNode(process.versions.node);
if (problem !== null) {
  process.stderr.write(`${problem}\n`);
  process.exit(1);
}
