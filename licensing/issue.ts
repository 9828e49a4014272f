/**
 * Issuing a license: a spec (JSON file and/or flags) becomes a payload, validated by the same
 * schema the appliance uses, signed with the vendor key, armored.
 */
import { readFileSync } from "node:fs";
import type { Ed25519Signer } from "../src/crypto/ed25519.js";
import { licensePayloadSchema, signLicense, type LicensePayload } from "../src/license/format.js";
import { VendorToolError } from "./keys.js";

export interface IssueFlags {
  readonly spec?: string;
  readonly licenseId?: string;
  readonly licensee?: string;
  readonly edition?: string;
  readonly mode?: string;
  readonly tenants?: string;
  readonly users?: string;
  readonly agents?: string;
  readonly features?: string;
  readonly issuedAt?: string;
  readonly notBefore?: string;
  readonly expires?: string;
  readonly graceDays?: string;
  readonly sequence?: string;
}

function integer(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new VendorToolError(`--${name} must be a whole number`);
  return Number(value);
}

/** Whole seconds, as the appliance prints times: "2027-01-31T00:00:00Z". */
export function isoSeconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/**
 * The payload from a spec file and flags (flags win). Defaults: issuedAt now, notBefore a day before
 * issuedAt (a customer whose clock is somewhat behind the vendor's can install a fresh license; the
 * appliance refuses a license before its notBefore), features [], graceDays 30. A date-only
 * expiry or notBefore means midnight UTC.
 */
export function payloadFrom(flags: IssueFlags, now: Date): LicensePayload {
  let spec: Record<string, unknown> = {};
  if (flags.spec !== undefined) {
    try {
      const parsed: unknown = JSON.parse(readFileSync(flags.spec, "utf8"));
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("not an object");
      spec = parsed as Record<string, unknown>;
    } catch (error) {
      throw new VendorToolError(`${flags.spec}: not a JSON object (${(error as Error).message})`);
    }
  }
  const day = (v: unknown): unknown => (typeof v === "string" && /^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v}T00:00:00Z` : v);
  const limitsSpec = (spec.limits ?? {}) as Record<string, unknown>;
  const issuedAt = flags.issuedAt ?? spec.issuedAt ?? isoSeconds(now);
  const issuedMs = typeof issuedAt === "string" ? Date.parse(String(day(issuedAt))) : Number.NaN;
  const defaultNotBefore = Number.isNaN(issuedMs) ? issuedAt : isoSeconds(new Date(issuedMs - 86_400_000));
  const candidate = {
    ...spec,
    licenseId: flags.licenseId ?? spec.licenseId,
    licensee: flags.licensee ?? spec.licensee,
    edition: flags.edition ?? spec.edition,
    deploymentMode: flags.mode ?? spec.deploymentMode,
    limits: {
      ...limitsSpec,
      ...Object.fromEntries(
        Object.entries({
          tenants: integer("tenants", flags.tenants),
          users: integer("users", flags.users),
          agents: integer("agents", flags.agents),
        }).filter(([, v]) => v !== undefined),
      ),
    },
    features:
      flags.features !== undefined
        ? flags.features
            .split(",")
            .map((f) => f.trim())
            .filter((f) => f !== "")
        : (spec.features ?? []),
    issuedAt: day(issuedAt),
    notBefore: day(flags.notBefore ?? spec.notBefore ?? defaultNotBefore),
    expiresAt: day(flags.expires ?? spec.expiresAt),
    graceDays: integer("grace-days", flags.graceDays) ?? spec.graceDays ?? 30,
    sequence: integer("sequence", flags.sequence) ?? spec.sequence,
  };
  const parsed = licensePayloadSchema.safeParse(candidate);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new VendorToolError(
      `invalid license spec: ${issue ? `${issue.path.join(".") || "(spec)"}: ${issue.message}` : "invalid"}`,
    );
  }
  return parsed.data;
}

export function issueLicense(
  flags: IssueFlags,
  key: Ed25519Signer,
  now: Date,
): { text: string; payload: LicensePayload } {
  const payload = payloadFrom(flags, now);
  return { text: signLicense(payload, key), payload };
}
