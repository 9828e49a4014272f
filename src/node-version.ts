/**
 * The Node.js versions the appliance runs on. 20.15 brought `zlib.crc32` (personal-token
 * checksums); the build and test tools (vite 8 under vitest) need 20.19 on the 20 line and 22.12
 * above it; 21 has neither. package.json's `engines` says the same (a unit test keeps them equal).
 */
export const SUPPORTED_NODE = "^20.19.0 || >=22.12.0";

/** Why this Node cannot run the appliance, in one line; null when it can. */
export function unsupportedNode(version: string): string | null {
  const [major = 0, minor = 0] = version.replace(/^v/, "").split(".").map(Number);
  const supported = (major === 20 && minor >= 19) || (major === 22 && minor >= 12) || major > 22;
  return supported
    ? null
    : `vecto: Node.js ${version} is not supported; install Node.js ${SUPPORTED_NODE.replace(" || ", " or ")}`;
}
