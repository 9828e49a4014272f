/**
 * The certificate the HTTPS listener serves right now (it changes on reload), for /readyz and the
 * daily expiry log line. Only what an operator needs to judge it: no key material.
 */
import { CERT_WARN_DAYS, expiryWarning, type CertificateSummary } from "../crypto/index.js";

export { CERT_WARN_DAYS };
export type { CertificateSummary };

export class ServedCertificate {
  #current: CertificateSummary;

  constructor(initial: CertificateSummary) {
    this.#current = initial;
  }

  get current(): CertificateSummary {
    return this.#current;
  }

  replace(next: CertificateSummary): void {
    this.#current = next;
  }

  /** Empty until CERT_WARN_DAYS before expiry; then one line saying when and what to do. */
  warnings(now: Date = new Date()): string[] {
    const warning = expiryWarning(this.#current, now);
    return warning === null ? [] : [warning];
  }
}
