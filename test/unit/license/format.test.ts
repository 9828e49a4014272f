/**
 * The license file format with real Ed25519 keys: what verifies, and every way a license is
 * refused (wrong key, unknown kid, one altered byte, damaged armor, unknown fields), each with its
 * reason. The trusted keys are always a parameter; the compiled list is checked for consistency.
 */
import { createPublicKey } from "node:crypto";
import { describe, expect, it } from "vitest";
import { canonicalJson } from "../../../src/license/canonical.js";
import { keyIdOf, parsePublicKey } from "../../../src/crypto/ed25519.js";
import {
  armorLicense,
  LICENSE_BEGIN,
  LICENSE_END,
  LicenseError,
  signLicense,
  trustedKeyMap,
  verifyLicense,
  type LicenseErrorCode,
  type VendorKey,
} from "../../../src/license/format.js";
import { VENDOR_KEYS } from "../../../src/license/vendor-keys.js";
import { envelopeOf, payloadAt, testVendor } from "../../license-helpers.js";

const vendor = testVendor();
const other = testVendor();
const trusted = [vendor.key];

function refusal(text: string, keys: readonly VendorKey[] = trusted): { code: LicenseErrorCode; message: string } {
  try {
    verifyLicense(text, keys);
  } catch (error) {
    if (error instanceof LicenseError) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error("the license was accepted");
}

/** Re-armors an edited envelope (the signature is left as it was). */
function rearmor(
  text: string,
  edit: (envelope: { payload: Record<string, unknown>; kid: string; sig: string }) => void,
): string {
  const envelope = envelopeOf(text);
  edit(envelope);
  return armorLicense(envelope);
}

describe("license format", () => {
  it("signs and verifies: armored, base64 in 64-character lines, the payload back intact with its kid", () => {
    const text = vendor.sign({ licenseId: "LIC-42", limits: { tenants: 3, users: 12, agents: 2 } });
    const lines = text.trim().split("\n");
    expect(lines[0]).toBe(LICENSE_BEGIN);
    expect(lines.at(-1)).toBe(LICENSE_END);
    for (const line of lines.slice(1, -2)) expect(line).toHaveLength(64);
    const verified = verifyLicense(text, trusted);
    expect(verified.kid).toBe(vendor.key.kid);
    expect(verified.payload).toMatchObject({
      licenseId: "LIC-42",
      limits: { tenants: 3, users: 12, agents: 2 },
      deploymentMode: "on-prem",
      features: ["hsm", "sso"],
    });
    // Line endings and surrounding whitespace of a mailed file do not matter.
    expect(verifyLicense(`\n  ${text.replace(/\n/g, "\r\n")}  \n`, trusted).payload.licenseId).toBe("LIC-42");
  });

  it("accepts a trusted key given as an SPKI PEM, and several keys (rotation)", () => {
    const pem = createPublicKey(vendor.privateKey).export({ format: "pem", type: "spki" }).toString();
    expect(verifyLicense(vendor.sign(), [other.key, { kid: vendor.key.kid, publicKey: pem }]).kid).toBe(vendor.key.kid);
    expect(verifyLicense(other.sign(), [vendor.key, other.key]).kid).toBe(other.key.kid);
  });

  it("refuses a license signed by a key that is not trusted: unknown kid", () => {
    const r = refusal(other.sign());
    expect(r.code).toBe("unknown-key");
    expect(r.message).toBe(
      `the license is signed with key ${other.key.kid}, which this build does not trust (a license from another vendor key, or a build that predates the key)`,
    );
  });

  it("refuses a license signed by the wrong key under a trusted kid", () => {
    const forged = rearmor(other.sign(), (e) => (e.kid = vendor.key.kid));
    expect(refusal(forged)).toEqual({
      code: "bad-signature",
      message: "the license signature does not verify: the license was altered or damaged",
    });
  });

  it("refuses a payload altered by one byte (users 50 -> 59)", () => {
    const text = vendor.sign();
    const envelope = envelopeOf(text);
    const json = canonicalJson(envelope).replace('"users":50', '"users":59');
    expect(json).toContain('"users":59');
    const body = Buffer.from(json, "utf8").toString("base64");
    const tampered = `${LICENSE_BEGIN}\n${body}\n${LICENSE_END}\n`;
    expect(refusal(tampered).code).toBe("bad-signature");
    // Extending the limits, adding a feature or moving the expiry is the same alteration.
    expect(refusal(rearmor(text, (e) => (e.payload.features as string[]).push("external-llm"))).code).toBe(
      "bad-signature",
    );
    expect(refusal(rearmor(text, (e) => (e.payload.expiresAt = "2099-01-01T00:00:00Z"))).code).toBe("bad-signature");
  });

  it("refuses any single flipped character of the armored text", () => {
    const text = vendor.sign();
    const lines = text.split("\n");
    for (const [line, col] of [
      [1, 0],
      [1, 30],
      [2, 10],
      [3, 5],
    ] as const) {
      const target = lines[line] as string;
      const flipped = target[col] === "A" ? "B" : "A";
      const copy = [...lines];
      copy[line] = target.slice(0, col) + flipped + target.slice(col + 1);
      expect(() => verifyLicense(copy.join("\n"), trusted), `line ${line} col ${col}`).toThrow(LicenseError);
    }
  });

  it("refuses damaged armor with the reason", () => {
    const text = vendor.sign();
    const lines = text.trim().split("\n");
    expect(refusal(lines.slice(1).join("\n"))).toEqual({
      code: "armor",
      message: `not a Vecto license: the first line must be ${LICENSE_BEGIN}`,
    });
    expect(refusal(lines.slice(0, -1).join("\n"))).toEqual({
      code: "armor",
      message: `the license is damaged: it does not end with ${LICENSE_END}`,
    });
    expect(refusal(lines.slice(0, 2).concat(lines.slice(3)).join("\n")).code).toMatch(
      /^(armor|envelope|bad-signature)$/,
    ); // a line lost in transit
    expect(refusal([lines[0], "not*base64!", lines.at(-1)].join("\n"))).toEqual({
      code: "armor",
      message: "the license is damaged: the text between the armor lines is not valid base64",
    });
    expect(refusal([lines[0], Buffer.from("{not json").toString("base64"), lines.at(-1)].join("\n")).message).toBe(
      "the license is damaged: its content is not valid JSON",
    );
    expect(refusal("").code).toBe("armor");
    expect(refusal("x".repeat(70_000)).message).toMatch(/at most 65536 bytes/);
  });

  it("refuses an envelope with missing or unknown fields", () => {
    const text = vendor.sign();
    expect(refusal(rearmor(text, (e) => Object.assign(e, { extra: 1 }))).code).toBe("envelope");
    expect(refusal(rearmor(text, (e) => delete (e as Partial<typeof e>).kid)).message).toMatch(
      /^the license is damaged: kid:/,
    );
    expect(refusal(rearmor(text, (e) => (e.sig = "AAAA"))).code).toBe("bad-signature");
  });

  it("refuses a vendor-signed payload with unknown or invalid fields, naming the field", () => {
    const sign = (payload: unknown): string => {
      const sig = Buffer.from(vendor.signer.sign(Buffer.from(`vecto-license-v1\n${canonicalJson(payload)}`))).toString(
        "base64",
      );
      return armorLicense({ payload, kid: vendor.key.kid, sig });
    };
    const good = payloadAt(new Date());
    expect(verifyLicense(sign(good), trusted).payload.licenseId).toBe(good.licenseId); // the hand-made signature is the real thing
    expect(refusal(sign({ ...good, unlimited: true }))).toEqual({
      code: "invalid-payload",
      message: 'the license is signed but invalid: (payload): Unrecognized key: "unlimited"',
    });
    expect(refusal(sign({ ...good, limits: { ...good.limits, projects: 5 } })).message).toMatch(
      /limits: Unrecognized key: "projects"/,
    );
    expect(refusal(sign({ ...good, deploymentMode: "cloud" })).message).toMatch(
      /^the license is signed but invalid: deploymentMode:/,
    );
    expect(refusal(sign({ ...good, expiresAt: "2026-02-30T00:00:00Z" })).message).toMatch(
      /expiresAt: must be an RFC 3339 UTC time/,
    );
    expect(refusal(sign({ ...good, notBefore: good.expiresAt })).message).toMatch(/expiresAt: must be after notBefore/);
    expect(refusal(sign({ ...good, sequence: 0 })).message).toMatch(/sequence:/);
    expect(refusal(sign({ ...good, features: ["sso", "sso"] })).message).toMatch(/features: must not repeat a feature/);
    const { graceDays: _g, ...missing } = good;
    expect(refusal(sign(missing)).message).toMatch(/graceDays:/);
  });

  it("is domain-separated: the same key's signature over the bare payload is not a license signature", () => {
    const payload = payloadAt(new Date());
    const sig = Buffer.from(vendor.signer.sign(Buffer.from(canonicalJson(payload)))).toString("base64");
    expect(refusal(armorLicense({ payload, kid: vendor.key.kid, sig })).code).toBe("bad-signature");
  });

  it("signLicense refuses an invalid spec instead of signing it", () => {
    expect(() => signLicense({ ...payloadAt(new Date()), licensee: "" }, vendor.signer)).toThrow(/licensee/);
  });

  it("a key list entry whose kid does not match its key is refused", () => {
    expect(() => trustedKeyMap([{ kid: other.key.kid, publicKey: vendor.key.publicKey }])).toThrow(
      /does not match its public key/,
    );
    expect(() => parsePublicKey("not a key")).toThrow(/expected an Ed25519 public key/);
  });

  it("the compiled vendor key list is non-empty and each kid matches its key", () => {
    expect(VENDOR_KEYS.length).toBeGreaterThan(0);
    const map = trustedKeyMap(VENDOR_KEYS);
    for (const [kid, raw] of map) expect(keyIdOf(raw)).toBe(kid);
    // A test vendor key is not among them: licenses signed in tests are foreign to the product.
    expect(map.has(vendor.key.kid)).toBe(false);
    expect(refusal(vendor.sign(), VENDOR_KEYS).code).toBe("unknown-key");
  });
});
