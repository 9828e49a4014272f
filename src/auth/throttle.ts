/**
 * Login throttling with exponential back-off, per client address and per account (ASVS 6.1.1).
 *
 * Three counters, so that an attacker cannot lock a real user out:
 * - per (account, address): strict. The attacker's own address is slowed hard; the real user,
 *   from another address, is not affected by it.
 * - per address: catches one address spraying many accounts.
 * - per account from anywhere: loose and capped at one minute, so a distributed attack is slowed
 *   but the real owner is never delayed by more than a minute.
 * Delays, not lockouts: after the delay one more attempt is allowed. A success clears the
 * account's counters. Counters older than the window start over. See docs/authentication.md.
 */
import type { Database } from "../db/db.js";

interface Policy {
  readonly freeFailures: number;
  readonly maxDelaySeconds: number;
}

const POLICIES = {
  accountAddress: { freeFailures: 5, maxDelaySeconds: 900 },
  address: { freeFailures: 20, maxDelaySeconds: 900 },
  account: { freeFailures: 20, maxDelaySeconds: 60 },
} satisfies Record<string, Policy>;

const WINDOW_MS = 60 * 60 * 1000;

export interface ThrottleKeys {
  readonly account: string;
  readonly accountAddress: string;
  readonly address: string;
}

/** How the throttle names an account: a prefix of its email's blind index (no email in the table). */
export function accountRef(emailLookup: Uint8Array): string {
  return Buffer.from(emailLookup).toString("hex").slice(0, 32);
}

/** The address counter alone, for attempts that name no account (a password reset token). */
export function addressKeys(address: string): Pick<ThrottleKeys, "address"> {
  return { address: `addr:${address}` };
}

export function throttleKeys(tenantId: string, accountRef: string, address: string): ThrottleKeys {
  return {
    account: `acct:${tenantId}:${accountRef}`,
    accountAddress: `acct-addr:${tenantId}:${accountRef}:${address}`,
    address: `addr:${address}`,
  };
}

export function delaySeconds(failures: number, policy: Policy): number {
  const over = failures - policy.freeFailures;
  if (over < 0) return 0;
  return Math.min(2 ** over, policy.maxDelaySeconds);
}

export class LoginThrottle {
  constructor(
    private readonly db: Database,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Seconds to wait before another attempt, or 0 when one is allowed now. */
  retryAfter(keys: Partial<ThrottleKeys>): number {
    const now = this.now().getTime();
    let wait = 0;
    for (const key of Object.values(keys)) {
      const record = key === undefined ? undefined : this.db.loginThrottle.get(key);
      if (!record?.blockedUntil) continue;
      wait = Math.max(wait, Math.ceil((Date.parse(record.blockedUntil) - now) / 1000));
    }
    return wait;
  }

  async failure(keys: Partial<ThrottleKeys>): Promise<void> {
    const now = this.now();
    // Counters, not actions: the failure itself is audited by the flow that failed.
    await this.db.bookkeep("login-throttle", (tx) => {
      for (const [kind, key] of Object.entries(keys) as [keyof ThrottleKeys, string][]) {
        const record = tx.loginThrottle.get(key);
        const fresh = !record || now.getTime() - Date.parse(record.lastFailure) > WINDOW_MS;
        const failures = fresh ? 1 : record.failures + 1;
        const delay = delaySeconds(failures, POLICIES[kind]);
        tx.loginThrottle.put({
          key,
          failures,
          lastFailure: now.toISOString(),
          blockedUntil: delay > 0 ? new Date(now.getTime() + delay * 1000).toISOString() : null,
        });
      }
    });
  }

  async success(keys: ThrottleKeys): Promise<void> {
    await this.db.bookkeep("login-throttle", (tx) => {
      tx.loginThrottle.clear(keys.account);
      tx.loginThrottle.clear(keys.accountAddress);
    });
  }
}
