/**
 * What a usage snapshot counts, summed over the customer tenants (the platform tenant holds only
 * the platform root and is not counted). Numbers only.
 *
 * Peak concurrent sessions is an estimate from the sessions table, which keeps for each session
 * when it was created, when it expires, when it was last used and when it was revoked; it does not
 * keep every use. A session counts as live from created_at until the earliest of revoked_at,
 * expires_at, and last_used_at + the tenant's access-token lifetime (an access token issued at the
 * last use could be used that long). The peak is the largest number of such intervals that overlap
 * at one moment of the day (a sweep over their start and end points). It over-counts a session
 * that was idle between uses, never under-counts one that was used.
 */
import type { Database } from "../db/db.js";
import type { SessionSpan } from "../db/repositories/usage-counts.js";
import { dayStart, type UsageCounts } from "./report-format.js";

const DAY_MS = 86_400_000;
const ACTIVE_WINDOW_DAYS = 30;

export interface Interval {
  readonly start: number;
  readonly end: number;
}

/** The most half-open intervals [start, end) that overlap at one moment. */
export function peakOverlap(intervals: readonly Interval[]): number {
  const points: [number, number][] = [];
  for (const { start, end } of intervals) {
    if (end <= start) continue;
    points.push([start, 1], [end, -1]);
  }
  // At the same instant an interval ending makes room before one starting (half-open intervals).
  points.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let live = 0;
  let peak = 0;
  for (const [, delta] of points) {
    live += delta;
    peak = Math.max(peak, live);
  }
  return peak;
}

/** When a session was (estimated to be) live, clipped to [from, to); null when not at all. */
export function sessionInterval(
  span: SessionSpan,
  accessTokenTtlSeconds: number,
  from: number,
  to: number,
): Interval | null {
  const created = Date.parse(span.createdAt);
  const ends = [Date.parse(span.expiresAt), Date.parse(span.lastUsedAt) + accessTokenTtlSeconds * 1000, to];
  if (span.revokedAt !== null) ends.push(Date.parse(span.revokedAt));
  const start = Math.max(created, from);
  const end = Math.min(...ends);
  return end > start ? { start, end } : null;
}

/** The counts for one UTC day, taken at `at` (the state of accounts, projects, tokens at that moment). */
export function countUsage(db: Database, day: string, at: Date): UsageCounts {
  const from = dayStart(day).getTime();
  const to = from + DAY_MS;
  const since = new Date(to - ACTIVE_WINDOW_DAYS * DAY_MS).toISOString();
  const until = new Date(to).toISOString();
  const counts: UsageCounts = {
    tenants: 0,
    users: { active: 0, disabled: 0, byRole: { tenant_admin: 0, member: 0, viewer: 0 }, auditors: 0 },
    activeUsers30d: 0,
    agents: 0,
    projects: 0,
    nodes: 0,
    personalAccessTokens: 0,
    peakConcurrentSessions: 0,
    llmCallsByProvider: {},
  };
  const intervals: Interval[] = [];
  for (const tenant of db.usageCounts.customerTenants()) {
    counts.tenants += 1;
    const usage = db.tenantReads(tenant.id).usage;
    for (const row of usage.users()) {
      if (row.kind === "agent") {
        if (row.status === "active") counts.agents += row.count;
        continue;
      }
      if (row.status === "disabled") {
        counts.users.disabled += row.count;
        continue;
      }
      counts.users.active += row.count;
      if (row.role === "tenant_admin" || row.role === "member" || row.role === "viewer")
        counts.users.byRole[row.role] += row.count;
      if (row.auditor) counts.users.auditors += row.count;
    }
    counts.activeUsers30d += usage.activeHumans(since, until);
    counts.projects += usage.activeProjects();
    counts.nodes += usage.liveNodes();
    counts.personalAccessTokens += usage.livePersonalTokens(at.toISOString());
    const calls = db.tenantReads(tenant.id).aiCalls.countByProvider(new Date(from).toISOString(), until);
    for (const [provider, n] of Object.entries(calls))
      counts.llmCallsByProvider[provider] = (counts.llmCallsByProvider[provider] ?? 0) + n;
    for (const span of usage.sessionSpans(new Date(from).toISOString(), new Date(to).toISOString())) {
      const interval = sessionInterval(span, tenant.accessTokenTtlSeconds, from, to);
      if (interval) intervals.push(interval);
    }
  }
  counts.peakConcurrentSessions = peakOverlap(intervals);
  return counts;
}
