import { chmod, writeFile } from "node:fs/promises";

export const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "hex"));
export const toHex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

/** Writes a key file with exact content and mode (chmod after write: umask cannot interfere). */
export async function writeKeyFile(path: string, content: string | Uint8Array, mode = 0o600): Promise<void> {
  await writeFile(path, content);
  await chmod(path, mode);
}
