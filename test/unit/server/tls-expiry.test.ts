/**
 * The expiry warning's window (CERT_WARN_DAYS, shared by doctor, /readyz and the daily log line)
 * and the daily tls-expiry job: silent before the window, one warning line a run inside it.
 */
import { describe, expect, it } from "vitest";
import {
  CERT_WARN_DAYS,
  daysLeft,
  expiryWarning,
  type CertificateSummary,
} from "../../../src/crypto/tls-certificate.js";
import { tlsExpiryJob } from "../../../src/jobs/tls-expiry.js";
import { createLogger } from "../../../src/log.js";
import { ServedCertificate } from "../../../src/tls/served-certificate.js";

const DAY = 86_400_000;
const now = new Date("2027-03-01T12:00:00.000Z");

function certificate(validTo: Date): CertificateSummary {
  return {
    subject: "CN=vecto.example",
    validFrom: new Date(now.getTime() - 300 * DAY),
    validTo,
    fingerprint256: "AA:BB",
    names: "DNS:vecto.example",
  };
}

describe("certificate expiry warnings", () => {
  it("warn from CERT_WARN_DAYS (30) days before expiry, not a day earlier, and say when it expired", () => {
    expect(CERT_WARN_DAYS).toBe(30);
    expect(expiryWarning(certificate(new Date(now.getTime() + 31 * DAY)), now)).toBeNull();
    expect(expiryWarning(certificate(new Date(now.getTime() + 30 * DAY)), now)).toBeNull();
    expect(expiryWarning(certificate(new Date(now.getTime() + 30 * DAY - 1)), now)).toBe(
      "the TLS certificate expires on 2027-03-31T11:59:59.999Z (29 days left); renew it (vecto tls renew)",
    );
    expect(expiryWarning(certificate(new Date(now.getTime() - DAY)), now)).toBe(
      "the TLS certificate expired on 2027-02-28T12:00:00.000Z; renew it (vecto tls renew)",
    );
    expect(daysLeft(certificate(new Date(now.getTime() + 2.5 * DAY)), now)).toBe(2);
  });

  it("the daily job logs one warning per run inside the window, none before it, and records the days left", async () => {
    const lines: string[] = [];
    const log = createLogger("info", { write: (line: string) => void lines.push(line) });
    const served = new ServedCertificate(certificate(new Date(Date.now() + 365.5 * DAY)));
    const job = tlsExpiryJob(served, log);
    expect(job.cron).toBe("0 8 * * *");
    expect(await job.run()).toEqual({ daysLeft: 365 });
    expect(lines).toEqual([]);

    served.replace(certificate(new Date(Date.now() + 5.5 * DAY)));
    expect(await job.run()).toEqual({ daysLeft: 5 });
    expect(await job.run()).toEqual({ daysLeft: 5 });
    const warnings = lines.map((l) => JSON.parse(l) as { level: string; msg: string; fingerprint256: string });
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatchObject({
      level: "warn",
      fingerprint256: "AA:BB",
      msg: expect.stringMatching(/^the TLS certificate expires on .* \(5 days left\); renew it/),
    });
  });
});
