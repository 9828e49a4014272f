/** Daily: a warning in the log while the served TLS certificate is within CERT_WARN_DAYS of expiry. */
import { daysLeft } from "../crypto/index.js";
import type { Logger } from "../log.js";
import type { ServedCertificate } from "../tls/served-certificate.js";
import type { Job } from "./scheduler.js";

/** Logs the warning (if any) now; returns the days left for the job's audit record. */
export function logCertificateExpiry(served: ServedCertificate, log: Logger): number {
  const certificate = served.current;
  for (const warning of served.warnings())
    log.warn(
      {
        subject: certificate.subject,
        validTo: certificate.validTo.toISOString(),
        fingerprint256: certificate.fingerprint256,
      },
      warning,
    );
  return daysLeft(certificate);
}

export function tlsExpiryJob(served: ServedCertificate, log: Logger): Job {
  return {
    name: "tls-expiry",
    cron: "0 8 * * *",
    run: () => Promise.resolve({ daysLeft: logCertificateExpiry(served, log) }),
  };
}
