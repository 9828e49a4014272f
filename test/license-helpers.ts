/**
 * Test vendor keys and licenses: real Ed25519 key pairs made per test run, licenses signed with
 * them by the same code the vendor's tool uses (src/license/format.ts). The appliance under test
 * is given the test key through openServices' vendorKeys option, the product's own wiring.
 */
import { generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import { encodePublicKey, keyIdOf, parsePublicKey, type Ed25519Signer } from "../src/crypto/ed25519.js";
import { signLicense, type LicensePayload, type VendorKey } from "../src/license/format.js";

export interface TestVendor {
  readonly privateKey: KeyObject;
  /** The same key as the signer handle signLicense takes. */
  readonly signer: Ed25519Signer;
  readonly key: VendorKey;
  sign(overrides?: Partial<LicensePayload>): string;
}

const DAY = 86_400_000;

export function isoSeconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.000Z$/, "Z");
}

/** A payload valid from an hour before `now` for a year, 30 days' grace, sequence 1. */
export function payloadAt(now: Date, overrides: Partial<LicensePayload> = {}): LicensePayload {
  const t = now.getTime();
  return {
    licenseId: "LIC-TEST-1",
    licensee: "Example Customer NV",
    edition: "enterprise",
    deploymentMode: "on-prem",
    limits: { tenants: 10, users: 50, agents: 10 },
    features: ["hsm", "sso"],
    issuedAt: isoSeconds(t - 3_600_000),
    notBefore: isoSeconds(t - 3_600_000),
    expiresAt: isoSeconds(t + 365 * DAY),
    graceDays: 30,
    sequence: 1,
    ...overrides,
  };
}

export function testVendor(now: () => Date = () => new Date()): TestVendor {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const raw = parsePublicKey(publicKey.export({ format: "pem", type: "spki" }).toString());
  const signer: Ed25519Signer = { publicKey: raw, sign: (message) => new Uint8Array(sign(null, message, privateKey)) };
  return {
    privateKey,
    signer,
    key: { kid: keyIdOf(raw), publicKey: encodePublicKey(raw) },
    sign: (overrides = {}) => signLicense(payloadAt(now(), overrides), signer),
  };
}

/** The JSON inside an armored license, for tests that tamper with it. */
export function envelopeOf(text: string): { payload: Record<string, unknown>; kid: string; sig: string } {
  const body = text.trim().split("\n").slice(1, -1).join("");
  return JSON.parse(Buffer.from(body, "base64").toString("utf8")) as {
    payload: Record<string, unknown>;
    kid: string;
    sig: string;
  };
}
