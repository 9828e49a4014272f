/**
 * The one-time setup token that lets the first operator create the platform root.
 *
 * High entropy (256 bits), so a plain SHA-256 is the right stored form; short-lived; single use;
 * issuing a new one retires the old. The token is shown once, on the operator's terminal.
 */
import { createHash, randomBytes } from "node:crypto";
import type { Database } from "../db/db.js";

const PREFIX = "vst_";

export interface IssuedSetupToken {
  readonly token: string;
  readonly expiresAt: string;
}

export function hashSetupToken(token: string): Uint8Array {
  return createHash("sha256").update(token, "utf8").digest();
}

export async function issueSetupToken(db: Database, ttlSeconds: number): Promise<IssuedSetupToken> {
  const token = PREFIX + randomBytes(32).toString("base64url");
  return db.write((tx) => {
    const expiresAt = new Date(Date.parse(tx.now) + ttlSeconds * 1000).toISOString();
    tx.setupTokens.replace(hashSetupToken(token), tx.now, expiresAt);
    return { token, expiresAt };
  });
}

/** True exactly once for a valid, unexpired token. */
export async function consumeSetupToken(db: Database, token: string): Promise<boolean> {
  if (!token.startsWith(PREFIX)) return false;
  return db.write((tx) => tx.setupTokens.consume(hashSetupToken(token), tx.now));
}
