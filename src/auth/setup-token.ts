/**
 * The one-time setup token that lets the first operator create the platform root.
 *
 * High entropy (256 bits), so a plain SHA-256 is the right stored form; short-lived; single use;
 * issuing a new one retires the old. The token is shown once, on the operator's terminal.
 */
import type { Database } from "../db/db.js";
import { DomainError } from "../errors.js";
import { newOpaqueSecret, secretHash } from "./opaque-secrets.js";

const PREFIX = "vst_";

export interface IssuedSetupToken {
  readonly token: string;
  readonly expiresAt: string;
}

/** True until the platform root exists. */
export function setupPending(db: Database): boolean {
  return db.tenants.platformTenant() === undefined;
}

export async function issueSetupToken(db: Database, ttlSeconds: number): Promise<IssuedSetupToken> {
  if (!setupPending(db))
    throw new DomainError(
      "conflict",
      "setup is already complete; the platform root manages access from here (a forgotten root password: vecto recover-root)",
    );
  const token = PREFIX + newOpaqueSecret();
  return db.bookkeep("setup-token", (tx) => {
    const expiresAt = new Date(Date.parse(tx.now) + ttlSeconds * 1000).toISOString();
    tx.setupTokens.replace(secretHash(token), tx.now, expiresAt);
    return { token, expiresAt };
  });
}
