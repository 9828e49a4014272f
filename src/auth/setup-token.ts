/**
 * The one-time setup token that lets the first operator create the platform root.
 *
 * High entropy (256 bits), so a plain SHA-256 is the right stored form; short-lived; single use;
 * issuing a new one retires the old. The token is shown once, on the operator's terminal.
 */
import type { Database } from "../db/db.js";
import { newOpaqueSecret, secretHash } from "./secrets.js";

const PREFIX = "vst_";

export interface IssuedSetupToken {
  readonly token: string;
  readonly expiresAt: string;
}

export function hashSetupToken(token: string): Uint8Array {
  return secretHash(token);
}

export async function issueSetupToken(db: Database, ttlSeconds: number): Promise<IssuedSetupToken> {
  const token = PREFIX + newOpaqueSecret();
  return db.write((tx) => {
    const expiresAt = new Date(Date.parse(tx.now) + ttlSeconds * 1000).toISOString();
    tx.setupTokens.replace(hashSetupToken(token), tx.now, expiresAt);
    return { token, expiresAt };
  });
}


