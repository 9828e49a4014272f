/**
 * License states, limits in effect and the checks made when a license is installed. Pure
 * functions of a license and a time, so the states are tested without a clock of their own.
 *
 *   unlicensed  no license installed: evaluation limits apply, nothing else is restricted
 *   valid       notBefore .. expiresAt - 30 days
 *   expiring    the last 30 days before expiresAt: a warning, nothing restricted
 *   grace       expiresAt .. expiresAt + graceDays: a louder warning, nothing restricted
 *   expired     after the grace period: read-only for changes (docs/licensing.md); nothing is
 *               deleted or locked away, reading, exports, backups and installing a license work
 */
import { LicenseError, type LicensePayload } from "./format.js";

export const LICENSE_STATES = ["unlicensed", "valid", "expiring", "grace", "expired"] as const;
export type LicenseState = (typeof LICENSE_STATES)[number];

export interface Limits {
  readonly tenants: number;
  readonly users: number;
  readonly agents: number;
}

export type LimitName = keyof Limits;

/**
 * Without a license: enough to evaluate the product with a pilot team, too small to run an
 * organisation on. People and agents, what a license sells, are kept small; tenants (the unit of
 * isolation, cheap to make; a pilot often mirrors a few departments) less so. docs/licensing.md.
 */
export const EVALUATION_LIMITS: Limits = { tenants: 10, users: 25, agents: 5 };

/** The warning starts this many days before expiresAt. */
export const EXPIRY_WARNING_DAYS = 30;
const DAY_MS = 86_400_000;

export interface LicenseTimes {
  readonly expiresAt: Date;
  readonly graceEndsAt: Date;
  readonly warnFrom: Date;
}

export function licenseTimes(payload: Pick<LicensePayload, "expiresAt" | "graceDays">): LicenseTimes {
  const expiresAt = new Date(payload.expiresAt);
  return {
    expiresAt,
    graceEndsAt: new Date(expiresAt.getTime() + payload.graceDays * DAY_MS),
    warnFrom: new Date(expiresAt.getTime() - EXPIRY_WARNING_DAYS * DAY_MS),
  };
}

export function stateAt(payload: LicensePayload | null, now: Date): LicenseState {
  if (payload === null) return "unlicensed";
  const t = licenseTimes(payload);
  const ms = now.getTime();
  if (ms >= t.graceEndsAt.getTime()) return "expired";
  if (ms >= t.expiresAt.getTime()) return "grace";
  if (ms >= t.warnFrom.getTime()) return "expiring";
  return "valid";
}

export function limitsOf(payload: LicensePayload | null): Limits {
  return payload === null ? EVALUATION_LIMITS : payload.limits;
}

/** Whole days from `now` until `to`, rounded up (0 when past). */
export function daysUntil(to: Date, now: Date): number {
  return Math.max(0, Math.ceil((to.getTime() - now.getTime()) / DAY_MS));
}

/** What an operator should be told, in words; empty when all is well. */
export function warningsFor(payload: LicensePayload | null, now: Date): string[] {
  const state = stateAt(payload, now);
  if (payload === null) {
    const l = EVALUATION_LIMITS;
    return [
      `no license is installed: evaluation limits apply (${l.tenants} tenants, ${l.users} users, ` +
        `${l.agents} agents); install one with vecto license install or PUT /api/license`,
    ];
  }
  const t = licenseTimes(payload);
  const warnings: string[] = [];
  if (state === "expiring")
    warnings.push(
      `the license expires on ${payload.expiresAt} (in ${daysUntil(t.expiresAt, now)} days); install a renewed license`,
    );
  if (state === "grace")
    warnings.push(
      `the license expired on ${payload.expiresAt}; the grace period ends on ` +
        `${t.graceEndsAt.toISOString()} (in ${daysUntil(t.graceEndsAt, now)} days), after which changes ` +
        `are refused until a renewed license is installed`,
    );
  if (state === "expired")
    warnings.push(
      `the license expired on ${payload.expiresAt} and its grace period ended on ` +
        `${t.graceEndsAt.toISOString()}: the appliance is read-only for changes until a renewed license is ` +
        `installed (reading, exports and backups work)`,
    );
  if (now.getTime() < Date.parse(payload.notBefore))
    warnings.push(
      `the clock (${now.toISOString()}) is before the license's notBefore (${payload.notBefore}); check ` +
        `the system time`,
    );
  return warnings;
}

/**
 * The checks an installation makes beyond the signature: the license must be in force now (not
 * before notBefore; within grace at the latest) and newer than the installed one. Throws a
 * LicenseError naming the reason.
 */
export function checkInstallable(
  payload: LicensePayload,
  now: Date,
  installed: { sequence: number; licenseId: string } | undefined,
): void {
  if (now.getTime() < Date.parse(payload.notBefore)) {
    throw new LicenseError(
      "not-yet-valid",
      `the license is not valid before ${payload.notBefore} (the clock says ${now.toISOString()})`,
    );
  }
  if (stateAt(payload, now) === "expired") {
    throw new LicenseError(
      "expired",
      `the license expired on ${payload.expiresAt} and its ${payload.graceDays}-day grace period has ` +
        `ended; ask for a renewed license`,
    );
  }
  if (installed !== undefined && payload.sequence <= installed.sequence) {
    const what =
      payload.sequence === installed.sequence
        ? payload.licenseId === installed.licenseId
          ? "it is already installed"
          : "an installed license has the same sequence"
        : "it is older than the installed license";
    throw new LicenseError(
      "sequence",
      `the license has sequence ${payload.sequence}, the installed license (${installed.licenseId}) has ` +
        `${installed.sequence}: ${what}; a replacement must have a higher sequence`,
    );
  }
}
