/**
 * The appliance's license: installing one (checked at upload: signature by a compiled-in vendor
 * key, dates, a rising sequence), its state, the limits in effect and the gate that enforces them
 * where tenants, users and agents are created, and the clock's high-water mark.
 *
 * Trust-but-verify (datasheet section 1): nothing here contacts anyone. Expiry never deletes or
 * locks data away: after the grace period the appliance is read-only for changes until a renewed
 * license is installed. A clock found running behind its high-water mark is recorded (audit event,
 * next usage snapshot), never punished. See docs/licensing.md.
 */
import type { EventSink } from "../audit/events.js";
import type { Actor } from "../vocabulary/events.js";
import type { Database, PlatformTx } from "../db/db.js";
import type { ClockRollbackRow } from "../db/repositories/licensing.js";
import { DomainError } from "../errors.js";
import { LicenseError, verifyLicense, type LicensePayload, type VendorKey } from "./format.js";
import {
  checkInstallable,
  daysUntil,
  licenseTimes,
  limitsOf,
  stateAt,
  warningsFor,
  type LicenseState,
  type LimitName,
  type Limits,
} from "./state.js";

/**
 * A clock this far behind its high-water mark is a rollback; less is ordinary adjustment (NTP steps, leap smearing).
 */
export const CLOCK_TOLERANCE_MS = 5 * 60_000;

export interface LicenseDeps {
  readonly db: Database;
  readonly events: EventSink;
  /** The vendor keys this build trusts: the compiled list (vendor-keys.ts) in the product. */
  readonly vendorKeys: readonly VendorKey[];
  readonly now: () => Date;
}

/** The installed license as shown to an operator. */
export interface LicenseSummary extends LicensePayload {
  readonly kid: string;
  readonly installedAt: string;
  readonly installedBy: string;
}

export interface LicenseStatus {
  readonly state: LicenseState;
  /** True when no (usable) license is installed and the evaluation limits apply. */
  readonly evaluation: boolean;
  /** True when changes are refused (expired after grace). */
  readonly readOnly: boolean;
  readonly license: LicenseSummary | null;
  readonly limits: Limits;
  /** What counts against the limits now: customer tenants, active people, active agents. */
  readonly usage: Limits;
  readonly expiresAt: string | null;
  readonly graceEndsAt: string | null;
  /** Whole days until expiry (until the end of grace while in grace); null without a license. */
  readonly daysLeft: number | null;
  readonly warnings: readonly string[];
  /** The clock is behind its high-water mark right now (an open rollback incident). */
  readonly clockRollback: boolean;
}

export type Creation = "tenant" | "user" | "agent";
const LIMIT_OF: Record<Creation, LimitName> = { tenant: "tenants", user: "users", agent: "agents" };

interface Current {
  readonly sequence: number | undefined;
  readonly license: LicenseSummary | null;
  /** Why an installed license is not in effect (e.g. its key is not trusted by this build). */
  readonly problem: string | null;
}

/** Seats as a license counts them: customer tenants; active people and active agents of customer tenants. */
export function seatUsage(db: Database): Limits {
  let users = 0;
  let agents = 0;
  for (const tenant of db.usageCounts.customerTenants()) {
    const counts = db.tenantReads(tenant.id).usage.activeAccounts();
    users += counts.humans;
    agents += counts.agents;
  }
  return { tenants: db.usageCounts.customerTenantCount(), users, agents };
}

export class LicenseService {
  #cached: Current | undefined;

  constructor(private readonly deps: LicenseDeps) {
    // Forgotten when a license row is written here, or another process committed (`vecto license install`).
    deps.db.watchedRows.subscribe((change) => {
      if (change.kind === "external" || change.table === "licenses") this.#cached = undefined;
    });
  }

  /**
   * The license in effect, from memory: read and verified again only after the installed one
   * changed (src/db/row-watch.ts tells: a license written here, or a commit by another process,
   * looked for first). The state it is in is a matter of the clock, asked at every call.
   */
  #current(): Current {
    this.deps.db.watchedRows.sync();
    if (this.#cached) return this.#cached;
    const sequence = this.deps.db.licensing.currentSequence();
    const row = sequence === undefined ? undefined : this.deps.db.licensing.currentLicense();
    let current: Current = { sequence, license: null, problem: null };
    if (row) {
      try {
        const { payload, kid } = verifyLicense(row.text, this.deps.vendorKeys);
        // The row is found by its sequence column; the signed sequence must be that one (an edited row is not in
        // effect).
        if (payload.sequence !== row.sequence)
          throw new LicenseError(
            "sequence",
            `its signed sequence ${payload.sequence} differs from the stored ${row.sequence}`,
          );
        current = {
          sequence,
          license: { ...payload, kid, installedAt: row.installedAt, installedBy: row.installedBy },
          problem: null,
        };
      } catch (error) {
        // E.g. a build whose vendor keys no longer include the one that signed it: evaluation limits, and say why.
        current = {
          sequence,
          license: null,
          problem: `the installed license ${row.licenseId} is not in effect: ${(error as Error).message}`,
        };
      }
    }
    if (this.deps.db.watchedRows.readsCommitted) this.#cached = current;
    return current;
  }

  payload(): LicensePayload | null {
    return this.#current().license;
  }

  state(): LicenseState {
    return stateAt(this.payload(), this.deps.now());
  }

  status(): LicenseStatus {
    const now = this.deps.now();
    const { license, problem } = this.#current();
    const state = stateAt(license, now);
    const times = license ? licenseTimes(license) : null;
    const warnings = [...(problem ? [problem] : []), ...warningsFor(license, now)];
    const clockRollback = this.deps.db.licensing.meta("clock.incident_open") === "1";
    if (clockRollback)
      warnings.push(
        "the system clock is behind a time this appliance has already seen; the rollback was recorded in " +
          "the audit trail and will be reported in the usage report",
      );
    return {
      state,
      evaluation: license === null,
      readOnly: state === "expired",
      license,
      limits: limitsOf(license),
      usage: seatUsage(this.deps.db),
      expiresAt: license?.expiresAt ?? null,
      graceEndsAt: times ? times.graceEndsAt.toISOString() : null,
      daysLeft: times ? daysUntil(state === "grace" ? times.graceEndsAt : times.expiresAt, now) : null,
      warnings,
      clockRollback,
    };
  }

  /** Refuses every change while the license is expired after its grace period. */
  assertWritable(): void {
    const payload = this.payload();
    if (stateAt(payload, this.deps.now()) === "expired") throw readOnlyError(payload);
  }

  /**
   * The gate at the point of creation: one more tenant, person or agent must fit the limits in
   * effect. Call it before costly work (fail fast, nothing written) and again inside the write
   * transaction (so two concurrent creations cannot both take the last seat).
   */
  assertCanCreate(what: Creation): void {
    const payload = this.payload();
    const state = stateAt(payload, this.deps.now());
    if (state === "expired") throw readOnlyError(payload);
    const name = LIMIT_OF[what];
    const allowed = limitsOf(payload)[name];
    const used = seatUsage(this.deps.db)[name];
    if (used + 1 > allowed) {
      const source = payload === null ? "the evaluation limits (no license installed)" : `license ${payload.licenseId}`;
      throw new DomainError(
        "license-limit",
        `license limit reached: ${name} ${used} of ${allowed} (${source}); nothing was created`,
        { limit: name, used, allowed, licenseState: state },
      );
    }
  }

  /**
   * Installs a license after checking it. A refusal is audited (license.refused) and thrown as a
   * DomainError "rejected" whose message is the reason; an installation commits with its audit
   * event (license.installed) in one transaction.
   */
  async install(text: string, actor: Actor): Promise<LicenseStatus> {
    const now = this.deps.now();
    let payload: LicensePayload;
    let kid: string;
    try {
      ({ payload, kid } = verifyLicense(text, this.deps.vendorKeys));
      checkInstallable(payload, now, this.deps.db.licensing.currentLicense());
    } catch (error) {
      if (error instanceof LicenseError) this.#refused(error, actor);
      throw error instanceof LicenseError
        ? new DomainError("rejected", `license refused: ${error.message}`, { reason: error.code })
        : error;
    }
    try {
      await this.deps.db.write((tx) => {
        // Again inside the transaction: a concurrent installation of the same or a newer license loses here.
        checkInstallable(payload, now, tx.licensing.currentLicense());
        tx.licensing.insertLicense({
          sequence: payload.sequence,
          licenseId: payload.licenseId,
          kid,
          text: text.replace(/\r\n/g, "\n").trim() + "\n",
          installedAt: tx.now,
          installedBy: `${actor.type}:${actor.id}`,
        });
        const state = stateAt(payload, now);
        this.deps.events.emit({
          event: "license.installed",
          sensitivity: "security",
          severity: "info",
          tenantId: null,
          actor,
          payload: {
            licenseId: payload.licenseId,
            sequence: payload.sequence,
            kid,
            edition: payload.edition,
            deploymentMode: payload.deploymentMode,
            expiresAt: payload.expiresAt,
            tenants: payload.limits.tenants,
            users: payload.limits.users,
            agents: payload.limits.agents,
            state,
          },
        });
        tx.licensing.setMeta("license.last_state", state);
        const behind = this.#moveMark(tx, now, "license-install");
        if (behind !== undefined) this.#recordRollback(tx, behind);
      });
    } catch (error) {
      if (error instanceof LicenseError) {
        this.#refused(error, actor);
        throw new DomainError("rejected", `license refused: ${error.message}`, { reason: error.code });
      }
      throw error;
    }
    return this.status();
  }

  #refused(error: LicenseError, actor: Actor): void {
    this.deps.events.emit({
      event: "license.refused",
      sensitivity: "security",
      severity: "warn",
      tenantId: null,
      actor,
      payload: { reason: error.code, message: error.message },
    });
  }

  /**
   * Compares the clock with its high-water mark (the mark stored here, and the newest time in any
   * audit log) and moves the mark forward. A clock behind it by more than CLOCK_TOLERANCE_MS opens
   * a rollback incident: recorded once (clock_rollbacks row + license.clock_rollback event) until
   * the clock has caught up again. Never refuses anything. Returns the rollback recorded now, if any.
   */
  async observeClock(source: string): Promise<ClockRollbackRow | undefined> {
    const now = this.deps.now();
    // Moving the mark is bookkeeping; a rollback found is an action of the appliance, audited.
    const behind = await this.deps.db.bookkeep("license-marks", (tx) => this.#moveMark(tx, now, source));
    if (behind === undefined) return undefined;
    return this.deps.db.write((tx) => {
      // Once per incident (another observer came first).
      if (tx.licensing.meta("clock.incident_open") === "1") return undefined;
      return this.#recordRollback(tx, behind);
    });
  }

  /** Records a clock rollback found, with its event, and opens the incident. */
  #recordRollback(tx: PlatformTx, behind: Omit<ClockRollbackRow, "id">): ClockRollbackRow {
    const id = tx.licensing.insertRollback(behind);
    tx.licensing.setMeta("clock.incident_open", "1");
    tx.audit({
      event: "license.clock_rollback",
      sensitivity: "security",
      severity: "warn",
      tenantId: null,
      actor: { type: "system", id: "license" },
      payload: { ...behind },
    });
    return { id, ...behind };
  }

  /** Moves the high-water mark; returns a rollback to record when the clock is behind it and no incident is open. */
  #moveMark(
    tx: { readonly licensing: Pick<PlatformTx["licensing"], "meta" | "setMeta"> },
    now: Date,
    source: string,
  ): Omit<ClockRollbackRow, "id"> | undefined {
    const db = this.deps.db;
    let mark = parseTime(tx.licensing.meta("clock.high_water"));
    for (const logId of db.auditLog.logIds()) {
      const latest = parseTime(db.licensing.latestAuditTime(logId));
      if (latest !== undefined && (mark === undefined || latest > mark)) mark = latest;
    }
    const open = tx.licensing.meta("clock.incident_open") === "1";
    if (mark !== undefined && mark - now.getTime() > CLOCK_TOLERANCE_MS) {
      tx.licensing.setMeta("clock.high_water", new Date(mark).toISOString());
      if (open) return undefined; // once per incident
      return {
        detectedAt: now.toISOString(),
        highWater: new Date(mark).toISOString(),
        behindSeconds: Math.round((mark - now.getTime()) / 1000),
        source,
      };
    }
    if (open) tx.licensing.setMeta("clock.incident_open", "0");
    tx.licensing.setMeta("clock.high_water", new Date(Math.max(mark ?? 0, now.getTime())).toISOString());
    return undefined;
  }

  /**
   * Records the license state when it changed since last seen (license.state_changed), e.g. valid
   * to expiring to grace to expired. Run by the daily usage job and at start; the first call only
   * remembers the state.
   */
  async recordStateChange(): Promise<LicenseState> {
    const state = this.state();
    const last = this.deps.db.licensing.meta("license.last_state");
    if (last === state) return state;
    // The first call only remembers the state (bookkeeping); a change is recorded with its event.
    if (last === undefined) {
      await this.deps.db.bookkeep("license-marks", (tx) => tx.licensing.setMeta("license.last_state", state));
      return state;
    }
    await this.deps.db.write((tx) => {
      tx.licensing.setMeta("license.last_state", state);
      const severity = state === "grace" || state === "expired" ? "warn" : "info";
      tx.audit({
        event: "license.state_changed",
        sensitivity: "normal",
        severity,
        tenantId: null,
        actor: { type: "system", id: "license" },
        payload: { from: last, to: state, licenseId: this.payload()?.licenseId ?? null },
      });
    });
    return state;
  }
}

function parseTime(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

function readOnlyError(payload: LicensePayload | null): DomainError {
  const since = payload ? licenseTimes(payload).graceEndsAt.toISOString() : "";
  return new DomainError(
    "license-read-only",
    `the license expired and its grace period ended on ${since}: the appliance is read-only for changes ` +
      `until a renewed license is installed (reading, exports and backups work)`,
    { licenseState: "expired" },
  );
}
