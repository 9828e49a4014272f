/**
 * Usage snapshots and the usage report (docs/licensing.md, "Usage report"): their shapes, the
 * bytes that are signed and hashed, the Markdown summary, and the verification the vendor runs
 * (licensing/ verify-usage). Counts only: no names, no ids of tenants or people, no content.
 *
 * - A snapshot is one UTC day's counts, signed with the installation's Ed25519 key over
 *   "vecto-usage-snapshot-v1\n" + canonical JSON (RFC 8785) of the snapshot without its signature.
 * - Snapshots form a hash chain: each carries prevHash = SHA-256 (hex) of the canonical JSON of the
 *   previous signed snapshot (the first one: 64 zeros), and consecutive seq numbers.
 * - A report is a period's snapshots with the chain's hashes, signed as a whole over
 *   "vecto-usage-report-v1\n" + canonical JSON of the report without its signature.
 *
 * Shared by the appliance and the vendor's tool: node:crypto, zod and canonicalize only.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { canonicalJson, signingMessage } from "../license/canonical.js";
// The standalone Ed25519 module, not crypto/index.ts: the vendor tool shares this file and must not load the crypto
// service.
import { decodeBase64Strict, ED25519_PUBLIC_KEY_BYTES, keyIdOf, verifyEd25519 } from "../crypto/ed25519.js";
import { DEPLOYMENT_MODES, type LicensePayload } from "../license/format.js";
import { LICENSE_STATES } from "../license/state.js";

export const SNAPSHOT_FORMAT = "vecto-usage-snapshot-v1";
export const REPORT_FORMAT = "vecto-usage-report-v1";
export const GENESIS_HASH = "0".repeat(64);
/** A report covers at most this many days (a year and a bit: one audit period with slack). */
export const MAX_REPORT_DAYS = 400;

const DAY_MS = 86_400_000;
const DAY_PATTERN = /^\d{4}-\d{2}-\d{2}$/;
const HASH = z.string().regex(/^[0-9a-f]{64}$/, "must be 64 hex digits");
const count = z.int().min(0);
const base64 = z.string().refine((v) => decodeBase64Strict(v) !== null, "must be base64");

/** YYYY-MM-DD that is a real date. */
export function isDay(value: string): boolean {
  return DAY_PATTERN.test(value) && new Date(`${value}T00:00:00Z`).toISOString().slice(0, 10) === value;
}

const day = z.string().refine(isDay, "must be a date YYYY-MM-DD");
const time = z.iso.datetime();

export function dayOf(date: Date): string {
  return date.toISOString().slice(0, 10);
}

export function dayStart(dayText: string): Date {
  return new Date(`${dayText}T00:00:00.000Z`);
}

export function addDays(dayText: string, n: number): string {
  return dayOf(new Date(dayStart(dayText).getTime() + n * DAY_MS));
}

/** Every day from `from` to `to`, both included. */
export function daysIn(from: string, to: string): string[] {
  const days: string[] = [];
  for (let d = from; d <= to; d = addDays(d, 1)) days.push(d);
  return days;
}

export const countsSchema = z.strictObject({
  /** Customer tenants (any status). */
  tenants: count,
  users: z.strictObject({
    /** Active people: the seats a license counts. */
    active: count,
    disabled: count,
    byRole: z.strictObject({ tenant_admin: count, member: count, viewer: count }),
    /** Active people with the auditor capability (also counted by role). */
    auditors: count,
  }),
  /**
   * People with a session created or used, or a personal access token used, in the 30 days up to the end of the day.
   */
  activeUsers30d: count,
  /** Active agent accounts. */
  agents: count,
  projects: count,
  nodes: count,
  /** Personal access tokens neither revoked nor expired. */
  personalAccessTokens: count,
  /** The most sessions live at one moment during the day (estimate: docs/licensing.md). */
  peakConcurrentSessions: count,
  /** LLM calls per provider during the day. */
  llmCallsByProvider: z.record(z.string(), count),
});

export type UsageCounts = z.output<typeof countsSchema>;

export const rollbackSchema = z.strictObject({
  detectedAt: time,
  highWater: time,
  behindSeconds: z.int().min(1),
  source: z.string(),
});
export type ClockRollback = z.output<typeof rollbackSchema>;

export const snapshotBodySchema = z.strictObject({
  format: z.literal(SNAPSHOT_FORMAT),
  installationId: z.string().min(1),
  seq: z.int().min(1),
  day,
  takenAt: time,
  prevHash: HASH,
  appVersion: z.string(),
  license: z.strictObject({ licenseId: z.string().nullable(), state: z.enum(LICENSE_STATES) }),
  counts: countsSchema,
  /** Clock rollbacks detected since the previous snapshot. */
  clockRollbacks: z.array(rollbackSchema),
});

export type SnapshotBody = z.output<typeof snapshotBodySchema>;

export const signedSnapshotSchema = snapshotBodySchema.extend({ signature: base64 });
export type SignedSnapshot = z.output<typeof signedSnapshotSchema>;

const licenseInReport = z.strictObject({
  licenseId: z.string(),
  licensee: z.string(),
  edition: z.string(),
  deploymentMode: z.enum(DEPLOYMENT_MODES),
  limits: z.strictObject({ tenants: count, users: count, agents: count }),
  expiresAt: time,
  sequence: z.int().min(1),
  state: z.enum(LICENSE_STATES),
});

export const reportSchema = z.strictObject({
  format: z.literal(REPORT_FORMAT),
  installationId: z.string().min(1),
  /** The installation's Ed25519 public key, raw 32 bytes in base64. */
  installationPublicKey: base64,
  appVersion: z.string(),
  generatedAt: time,
  period: z.strictObject({ from: day, to: day }),
  /** The license in effect when the report was made; null when none was installed. */
  license: licenseInReport.nullable(),
  /** Every snapshot of the period, in chain order. */
  snapshots: z.array(signedSnapshotSchema),
  chain: z.strictObject({
    /** The prevHash of the first snapshot (zeros at the start of the chain): where this report continues from. */
    anchor: HASH,
    /** The hash of the last snapshot; the next report's anchor when periods follow each other. */
    head: HASH.nullable(),
    hashes: z.array(HASH),
  }),
  /** Days of the period without a snapshot (the appliance was not running at the time, or the clock was behind). */
  missingDays: z.array(day),
  clockRollbacks: z.array(rollbackSchema),
  /** The same facts in words, Markdown. */
  summary: z.string(),
  signature: base64,
});

export type UsageReport = z.output<typeof reportSchema>;
export type UnsignedReport = Omit<UsageReport, "signature">;

export function snapshotSigningMessage(body: SnapshotBody): Buffer {
  return signingMessage(SNAPSHOT_FORMAT, body);
}

export function reportSigningMessage(report: UnsignedReport): Buffer {
  return signingMessage(REPORT_FORMAT, report);
}

/** SHA-256 (hex) of the signed snapshot's canonical JSON: the next snapshot's prevHash. */
export function snapshotHash(snapshot: SignedSnapshot): string {
  return createHash("sha256").update(canonicalJson(snapshot), "utf8").digest("hex");
}

export function withoutSignature<T extends { signature: string }>(value: T): Omit<T, "signature"> {
  const { signature: _signature, ...rest } = value;
  return rest;
}

// --- summary ------------------------------------------------------------------------------------

export interface Maxima {
  readonly tenants: number;
  readonly users: number;
  readonly agents: number;
  readonly peakConcurrentSessions: number;
  readonly activeUsers30d: number;
}

export function maximaOf(snapshots: readonly SignedSnapshot[]): Maxima {
  const max = (pick: (s: SignedSnapshot) => number): number => snapshots.reduce((m, s) => Math.max(m, pick(s)), 0);
  return {
    tenants: max((s) => s.counts.tenants),
    users: max((s) => s.counts.users.active),
    agents: max((s) => s.counts.agents),
    peakConcurrentSessions: max((s) => s.counts.peakConcurrentSessions),
    activeUsers30d: max((s) => s.counts.activeUsers30d),
  };
}

/** The Markdown summary a report carries; counts only. */
export function reportSummary(report: Omit<UnsignedReport, "summary">): string {
  const m = maximaOf(report.snapshots);
  const lic = report.license;
  const rollbacks = report.clockRollbacks.map((r) => `${r.detectedAt} (${r.behindSeconds} s behind ${r.highWater})`);
  const lines = [
    `# Vecto usage report ${report.period.from} to ${report.period.to}`,
    "",
    `- Installation: ${report.installationId} (key ` +
      `${keyIdOf(decodeBase64Strict(report.installationPublicKey) ?? new Uint8Array())})`,
    `- Version: ${report.appVersion}; generated ${report.generatedAt}`,
    lic
      ? `- License: ${lic.licenseId} (${lic.edition}, ${lic.deploymentMode}) for ${lic.licensee}, state ` +
        `${lic.state}, expires ${lic.expiresAt}; limits ${lic.limits.tenants} tenants, ${lic.limits.users} ` +
        `users, ${lic.limits.agents} agents`
      : "- License: none installed (evaluation limits)",
    `- Days with a snapshot: ${report.snapshots.length} of ` +
      `${daysIn(report.period.from, report.period.to).length}; missing: ` +
      `${report.missingDays.length === 0 ? "none" : report.missingDays.join(", ")}`,
    `- Clock rollbacks: ${rollbacks.length === 0 ? "none" : rollbacks.join("; ")}`,
    `- Highest in the period: ${m.tenants} tenants, ${m.users} users, ${m.agents} agents, ` +
      `${m.activeUsers30d} active users (30 days), ${m.peakConcurrentSessions} concurrent sessions`,
    "",
    "| day | tenants | users | admins | members | viewers | active 30d | agents | projects | nodes | " +
      "tokens | peak sessions | LLM calls |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...report.snapshots.map((s) => {
      const c = s.counts;
      const llm = Object.values(c.llmCallsByProvider).reduce((a, b) => a + b, 0);
      return (
        `| ${s.day} | ${c.tenants} | ${c.users.active} | ${c.users.byRole.tenant_admin} | ` +
        `${c.users.byRole.member} | ${c.users.byRole.viewer} | ${c.activeUsers30d} | ${c.agents} | ` +
        `${c.projects} | ${c.nodes} | ${c.personalAccessTokens} | ${c.peakConcurrentSessions} | ${llm} |`
      );
    }),
    "",
    "Counts only: the report holds no names, e-mail addresses, tenant or user ids, or content.",
    "",
  ];
  return lines.join("\n");
}

// --- verification (the vendor's side) -----------------------------------------------------------

export interface Overage {
  readonly day: string;
  readonly limit: "tenants" | "users" | "agents";
  readonly used: number;
  readonly allowed: number;
}

export interface UsageVerification {
  /** False when anything was altered, removed, reordered or signed by another key. */
  readonly ok: boolean;
  /** Each tampering or format problem found, specific (which day, which check). */
  readonly problems: readonly string[];
  /** Findings that are not tampering: a license id that differs, limits taken from the report. */
  readonly notes: readonly string[];
  readonly installationId: string | null;
  readonly installationKeyId: string | null;
  readonly period: { readonly from: string; readonly to: string } | null;
  readonly days: number;
  readonly missingDays: readonly string[];
  readonly clockRollbacks: readonly ClockRollback[];
  readonly overage: readonly Overage[];
  readonly maxima: Maxima | null;
  readonly chainHead: string | null;
}

export interface VerifyOptions {
  /** The installation key the vendor already knows (raw 32 bytes): the report must be signed with it. */
  readonly pinnedKey?: Uint8Array;
  /** The license (verified by the caller) whose limits the counts are held against. */
  readonly license?: LicensePayload;
  /** The head of the previous report's chain: this report must continue from it. */
  readonly previousHead?: string;
}

function issueText(error: z.ZodError): string {
  const issue = error.issues[0];
  return issue ? `${issue.path.join(".") || "(report)"}: ${issue.message}` : "invalid";
}

export function verifyUsageReport(input: unknown, options: VerifyOptions = {}): UsageVerification {
  const problems: string[] = [];
  const notes: string[] = [];
  const parsed = reportSchema.safeParse(input);
  if (!parsed.success) {
    return {
      ok: false,
      problems: [`not a valid Vecto usage report: ${issueText(parsed.error)}`],
      notes,
      installationId: null,
      installationKeyId: null,
      period: null,
      days: 0,
      missingDays: [],
      clockRollbacks: [],
      overage: [],
      maxima: null,
      chainHead: null,
    };
  }
  const report = parsed.data;
  const publicKey = decodeBase64Strict(report.installationPublicKey) ?? Buffer.alloc(0);
  const keyId = publicKey.length === ED25519_PUBLIC_KEY_BYTES ? keyIdOf(publicKey) : null;
  if (keyId === null) problems.push("the installation public key in the report is not an Ed25519 key");

  if (
    options.pinnedKey &&
    (publicKey.length !== options.pinnedKey.length || !Buffer.from(options.pinnedKey).equals(publicKey))
  ) {
    problems.push(
      `the report is signed with installation key ${keyId ?? "(invalid)"}, not the pinned key ` +
        `${keyIdOf(options.pinnedKey)}: the signing key was swapped`,
    );
  }
  const reportSignature = decodeBase64Strict(report.signature) ?? Buffer.alloc(0);
  if (!verifyEd25519(publicKey, reportSigningMessage(withoutSignature(report)), reportSignature)) {
    problems.push(
      "the report signature does not verify with the installation key in the report: the report was " +
        "altered after it was signed, or signed by another key",
    );
  }
  if (report.period.from > report.period.to)
    problems.push(`the period is reversed: ${report.period.from} is after ${report.period.to}`);

  // Each snapshot: its own signature, then its place in the chain.
  const hashes: string[] = [];
  report.snapshots.forEach((snapshot, i) => {
    const label = `day ${snapshot.day} (snapshot ${snapshot.seq})`;
    const signature = decodeBase64Strict(snapshot.signature) ?? Buffer.alloc(0);
    if (!verifyEd25519(publicKey, snapshotSigningMessage(withoutSignature(snapshot)), signature))
      problems.push(
        `${label}: the snapshot signature does not verify: its content was altered, or it was signed by another key`,
      );
    if (snapshot.installationId !== report.installationId)
      problems.push(
        `${label}: the snapshot belongs to installation ${snapshot.installationId}, not ${report.installationId}`,
      );
    if (snapshot.day < report.period.from || snapshot.day > report.period.to)
      problems.push(`${label}: outside the report's period`);
    const hash = snapshotHash(snapshot);
    hashes.push(hash);
    if (report.chain.hashes[i] !== hash) problems.push(`${label}: its hash differs from the one in the report's chain`);
    const previous = report.snapshots[i - 1];
    if (previous === undefined) {
      if (snapshot.prevHash !== report.chain.anchor)
        problems.push(`${label}: its prevHash differs from the report's chain anchor`);
      if (snapshot.seq === 1 && snapshot.prevHash !== GENESIS_HASH)
        problems.push(`${label}: the first snapshot of the chain must have a zero prevHash`);
      return;
    }
    if (snapshot.day <= previous.day) problems.push(`days out of order: ${label} comes after day ${previous.day}`);
    if (snapshot.seq !== previous.seq + 1) {
      const gap = snapshot.seq - previous.seq - 1;
      problems.push(
        gap > 0
          ? `${label}: the chain skips from snapshot ${previous.seq} to ${snapshot.seq}: ${gap} ` +
              `snapshot(s) were removed`
          : `${label}: snapshot numbers out of order (${previous.seq} then ${snapshot.seq})`,
      );
    }
    if (snapshot.prevHash !== hashes[i - 1])
      problems.push(
        `${label}: the chain is broken: its prevHash is not the hash of the snapshot before it (day ${previous.day})`,
      );
  });
  if (report.chain.hashes.length !== report.snapshots.length)
    problems.push(`the chain lists ${report.chain.hashes.length} hashes for ${report.snapshots.length} snapshots`);
  if (report.chain.head !== (hashes.at(-1) ?? null))
    problems.push("the chain head is not the hash of the last snapshot");
  if (options.previousHead !== undefined && report.chain.anchor !== options.previousHead) {
    problems.push(
      `the report does not continue the previous report's chain (anchor ` +
        `${report.chain.anchor.slice(0, 16)}…, previous head ${options.previousHead.slice(0, 16)}…): ` +
        `snapshots between the two reports are missing`,
    );
  }

  const validPeriod = report.period.from <= report.period.to;
  const have = new Set(report.snapshots.map((s) => s.day));
  const missingDays = validPeriod ? daysIn(report.period.from, report.period.to).filter((d) => !have.has(d)) : [];
  const claimed = [...report.missingDays].sort();
  if (validPeriod && canonicalJson(claimed) !== canonicalJson(missingDays))
    notes.push(
      `the report lists missing days ${claimed.join(", ") || "none"}, the snapshots show ` +
        `${missingDays.join(", ") || "none"}`,
    );

  const clockRollbacks = report.snapshots.flatMap((s) => s.clockRollbacks);
  const limits = options.license?.limits ?? report.license?.limits;
  if (options.license && report.license && options.license.licenseId !== report.license.licenseId)
    notes.push(
      `the report names license ${report.license.licenseId}, the license given is ${options.license.licenseId}`,
    );
  if (!options.license && report.license)
    notes.push(
      `limits are those of license ${report.license.licenseId} as the report states them; pass the ` +
        `license file to check against the signed original`,
    );
  if (!options.license && !report.license)
    notes.push("no license was installed and none was given: no limits to check against");
  const overage: Overage[] = [];
  if (limits) {
    for (const s of report.snapshots) {
      const used = { tenants: s.counts.tenants, users: s.counts.users.active, agents: s.counts.agents };
      for (const name of ["tenants", "users", "agents"] as const)
        if (used[name] > limits[name])
          overage.push({ day: s.day, limit: name, used: used[name], allowed: limits[name] });
    }
  }
  return {
    ok: problems.length === 0,
    problems,
    notes,
    installationId: report.installationId,
    installationKeyId: keyId,
    period: report.period,
    days: report.snapshots.length,
    missingDays,
    clockRollbacks,
    overage,
    maxima: maximaOf(report.snapshots),
    chainHead: hashes.at(-1) ?? null,
  };
}

/** The verification in words, for the vendor's terminal. */
export function verificationText(v: UsageVerification): string {
  const lines = [v.ok ? "OK: signatures and chain verify" : `TAMPERED or INVALID: ${v.problems.length} problem(s)`];
  for (const p of v.problems) lines.push(`  problem: ${p}`);
  if (v.installationId) lines.push(`installation: ${v.installationId} (key ${v.installationKeyId ?? "?"})`);
  if (v.period) lines.push(`period: ${v.period.from} to ${v.period.to}, ${v.days} day(s) with a snapshot`);
  lines.push(`missing days: ${v.missingDays.length === 0 ? "none" : v.missingDays.join(", ")}`);
  const rollbacks = v.clockRollbacks.map((r) => `${r.detectedAt} (${r.behindSeconds} s behind)`);
  lines.push(`clock rollbacks: ${rollbacks.length === 0 ? "none" : rollbacks.join("; ")}`);
  if (v.maxima)
    lines.push(
      `highest: ${v.maxima.tenants} tenants, ${v.maxima.users} users, ${v.maxima.agents} agents, ` +
        `${v.maxima.peakConcurrentSessions} concurrent sessions`,
    );
  const overage = v.overage.map((o) => `${o.day} ${o.limit} ${o.used} of ${o.allowed}`);
  lines.push(`overage: ${overage.length === 0 ? "none" : overage.join("; ")}`);
  for (const n of v.notes) lines.push(`note: ${n}`);
  if (v.chainHead) lines.push(`chain head: ${v.chainHead}`);
  return `${lines.join("\n")}\n`;
}
