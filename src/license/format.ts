/**
 * The license file (docs/licensing.md): armored text
 *
 *   -----BEGIN VECTO LICENSE-----
 *   base64 of the JSON envelope {payload, kid, sig}, in lines of 64 characters
 *   -----END VECTO LICENSE-----
 *
 * `sig` is Ed25519 by the vendor key `kid` over "vecto-license-v1\n" + the RFC 8785 canonical JSON
 * of `payload` (domain-separated, so no other signature of that key can pass for a license).
 *
 * Shared by the appliance and the vendor's tool (licensing/): src/crypto/ed25519.ts, zod and canonicalize
 * only, no native addon. Which keys are trusted is always the caller's parameter: the appliance
 * passes the list compiled into it (vendor-keys.ts), nothing is read from configuration.
 */
import { z } from "zod";
import { canonicalJson, signingMessage } from "./canonical.js";
// The standalone Ed25519 module, not crypto/index.ts: the vendor tool shares this file and must not load the crypto
// service.
import {
  decodeBase64Strict,
  ED25519_SIGNATURE_BYTES,
  keyIdOf,
  parsePublicKey,
  verifyEd25519,
  type Ed25519Signer,
} from "../crypto/ed25519.js";

export const LICENSE_BEGIN = "-----BEGIN VECTO LICENSE-----";
export const LICENSE_END = "-----END VECTO LICENSE-----";
export const LICENSE_SIGNATURE_DOMAIN = "vecto-license-v1";
/** A license is a few hundred bytes; anything near this is not one. */
export const MAX_LICENSE_TEXT_BYTES = 64 * 1024;
const ARMOR_LINE = 64;

export const DEPLOYMENT_MODES = ["public-saas", "private-saas", "on-prem", "appliance"] as const;
export type DeploymentMode = (typeof DEPLOYMENT_MODES)[number];
/** Features this build knows; a license may name others (for newer builds), which this one ignores. */
export const KNOWN_FEATURES = ["hsm", "external-llm", "sso"] as const;

export type LicenseErrorCode =
  | "armor" // not armored text, or the armor / base64 / JSON inside is damaged
  | "envelope" // the JSON is not {payload, kid, sig}
  | "unknown-key" // signed with a key this build does not trust
  | "bad-signature" // the signature does not verify: altered or damaged
  | "invalid-payload" // signed, but a field is missing, unknown or out of range
  | "not-yet-valid"
  | "expired"
  | "sequence"; // not newer than the installed license (replay, downgrade)

/** Messages are safe to show an operator and name the reason; they never quote key material. */
export class LicenseError extends Error {
  override readonly name = "LicenseError";
  constructor(
    readonly code: LicenseErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** A trusted vendor key: its id and public key (raw 32 bytes in base64, or an SPKI PEM). */
export interface VendorKey {
  readonly kid: string;
  readonly publicKey: string;
}

const RFC3339_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?Z$/;
const isoTime = z
  .string()
  .refine(
    (v) =>
      RFC3339_UTC.test(v) && !Number.isNaN(Date.parse(v)) && new Date(v).toISOString().slice(0, 10) === v.slice(0, 10),
    "must be an RFC 3339 UTC time, e.g. 2027-01-31T00:00:00Z",
  );
const limit = z.int().min(0).max(1_000_000_000);
const printable = (max: number): z.ZodString =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^[^\p{Cc}]+$/u, "must not contain control characters");

export const licensePayloadSchema = z
  .strictObject({
    licenseId: z
      .string()
      .regex(
        /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/,
        "must be 1-64 characters of A-Z a-z 0-9 . _ - (not starting with a symbol)",
      ),
    licensee: printable(200),
    edition: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, "must be a lowercase identifier, e.g. enterprise"),
    deploymentMode: z.enum(DEPLOYMENT_MODES),
    limits: z.strictObject({ tenants: limit, users: limit, agents: limit }),
    features: z
      .array(z.string().regex(/^[a-z][a-z0-9-]{0,39}$/, "must be a lowercase identifier"))
      .max(64)
      .refine((list) => new Set(list).size === list.length, "must not repeat a feature"),
    issuedAt: isoTime,
    notBefore: isoTime,
    expiresAt: isoTime,
    graceDays: z.int().min(0).max(365),
    sequence: z.int().min(1).max(Number.MAX_SAFE_INTEGER),
  })
  .superRefine((p, ctx) => {
    if (Date.parse(p.notBefore) >= Date.parse(p.expiresAt))
      ctx.addIssue({ code: "custom", path: ["expiresAt"], message: "must be after notBefore" });
    if (Date.parse(p.issuedAt) > Date.parse(p.expiresAt))
      ctx.addIssue({ code: "custom", path: ["issuedAt"], message: "must not be after expiresAt" });
  });

export type LicensePayload = z.output<typeof licensePayloadSchema>;

const envelopeSchema = z.strictObject({
  payload: z.record(z.string(), z.unknown()),
  kid: z.string().regex(/^[0-9a-f]{16}$/, "must be 16 lowercase hex digits"),
  sig: z.string().min(1),
});

export interface VerifiedLicense {
  readonly payload: LicensePayload;
  readonly kid: string;
}

function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return "invalid";
  const path = issue.path.length > 0 ? issue.path.join(".") : "(payload)";
  return `${path}: ${issue.message}`;
}

/**
 * Strict: the armor lines exactly once, base64 only in between (line breaks and surrounding whitespace are tolerated).
 */
export function dearmorLicense(text: string): Buffer {
  if (Buffer.byteLength(text, "utf8") > MAX_LICENSE_TEXT_BYTES)
    throw new LicenseError("armor", `a license file is at most ${MAX_LICENSE_TEXT_BYTES} bytes`);
  const lines = text
    .replace(/\r\n/g, "\n")
    .trim()
    .split("\n")
    .map((l) => l.trim());
  if (lines[0] !== LICENSE_BEGIN)
    throw new LicenseError("armor", `not a Vecto license: the first line must be ${LICENSE_BEGIN}`);
  if (lines.at(-1) !== LICENSE_END || lines.length < 3)
    throw new LicenseError("armor", `the license is damaged: it does not end with ${LICENSE_END}`);
  const body = lines.slice(1, -1).join("");
  const bytes = decodeBase64Strict(body);
  if (bytes === null || bytes.length === 0)
    throw new LicenseError("armor", "the license is damaged: the text between the armor lines is not valid base64");
  return Buffer.from(bytes);
}

export function armorLicense(envelope: { payload: unknown; kid: string; sig: string }): string {
  const body = Buffer.from(canonicalJson(envelope), "utf8").toString("base64");
  const lines: string[] = [];
  for (let i = 0; i < body.length; i += ARMOR_LINE) lines.push(body.slice(i, i + ARMOR_LINE));
  return `${LICENSE_BEGIN}\n${lines.join("\n")}\n${LICENSE_END}\n`;
}

/** The bytes the vendor signs. */
export function licenseSigningMessage(payload: unknown): Buffer {
  return signingMessage(LICENSE_SIGNATURE_DOMAIN, payload);
}

/** The trusted keys by id; a list entry whose id does not match its key is a build error. */
export function trustedKeyMap(keys: readonly VendorKey[]): Map<string, Uint8Array> {
  const map = new Map<string, Uint8Array>();
  for (const key of keys) {
    const raw = parsePublicKey(key.publicKey);
    if (keyIdOf(raw) !== key.kid)
      throw new Error(`vendor key list: kid ${key.kid} does not match its public key (${keyIdOf(raw)})`);
    map.set(key.kid, raw);
  }
  return map;
}

/**
 * Parses and verifies a license: armor, envelope, a trusted kid, the signature, then the payload's
 * fields. Dates and sequence are the installer's business (state.ts): this only proves the vendor
 * signed exactly this payload.
 */
export function verifyLicense(text: string, trustedKeys: readonly VendorKey[]): VerifiedLicense {
  const bytes = dearmorLicense(text);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw new LicenseError("armor", "the license is damaged: its content is not valid JSON");
  }
  const envelope = envelopeSchema.safeParse(json);
  if (!envelope.success) throw new LicenseError("envelope", `the license is damaged: ${describeIssue(envelope.error)}`);
  const { payload, kid, sig } = envelope.data;
  const publicKey = trustedKeyMap(trustedKeys).get(kid);
  if (!publicKey)
    throw new LicenseError(
      "unknown-key",
      `the license is signed with key ${kid}, which this build does not trust (a license from another ` +
        `vendor key, or a build that predates the key)`,
    );
  const signature = decodeBase64Strict(sig);
  if (signature === null || signature.length !== ED25519_SIGNATURE_BYTES)
    throw new LicenseError("bad-signature", "the license signature is malformed: the license was altered or damaged");
  if (!verifyEd25519(publicKey, licenseSigningMessage(payload), signature))
    throw new LicenseError(
      "bad-signature",
      "the license signature does not verify: the license was altered or damaged",
    );
  const parsed = licensePayloadSchema.safeParse(payload);
  if (!parsed.success)
    throw new LicenseError("invalid-payload", `the license is signed but invalid: ${describeIssue(parsed.error)}`);
  return { payload: parsed.data, kid };
}

/** The vendor side: signs a payload (validated first) with the vendor's Ed25519 key; returns the armored text. */
export function signLicense(payload: LicensePayload, signer: Ed25519Signer): string {
  const parsed = licensePayloadSchema.safeParse(payload);
  if (!parsed.success) throw new LicenseError("invalid-payload", `license spec: ${describeIssue(parsed.error)}`);
  const sig = Buffer.from(signer.sign(licenseSigningMessage(parsed.data))).toString("base64");
  return armorLicense({ payload: parsed.data, kid: keyIdOf(signer.publicKey), sig });
}
