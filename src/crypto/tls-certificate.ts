/**
 * The TLS certificate: the embedded default (a self-signed ECDSA P-256 certificate created in the
 * data dir, key file 0600, regenerated on request by `vecto tls renew --self-signed`) and the
 * checks every certificate and key pair passes before the server serves it, whoever made it.
 * Operators use their PKI's certificate via VECTO_TLS_CERT/VECTO_TLS_KEY; nothing here ever
 * writes those files.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { hostname } from "node:os";
import { dirname } from "node:path";
import { isDnsName, normalizeAddress } from "../net-address.js";
import { replaceFile, writeNewFile } from "./secret-file.js";

const VALIDITY_DAYS = 825;
const DAY_MS = 86_400_000;

/** Days before expiry from which `vecto doctor`, /readyz and the server's daily log warn. */
export const CERT_WARN_DAYS = 30;

export interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** What an operator needs to judge a certificate; never key material. */
export interface CertificateSummary {
  readonly subject: string;
  readonly validFrom: Date;
  readonly validTo: Date;
  readonly fingerprint256: string;
  /** The subjectAltName entries as X509Certificate prints them ("DNS:localhost, IP Address:127.0.0.1"). */
  readonly names: string;
}

export class TlsPairError extends Error {
  override readonly name = "TlsPairError";
}

/** The names a self-signed certificate carries: DNS names and IP addresses (IPv6 without brackets). */
export interface CertificateNames {
  readonly dns: readonly string[];
  readonly ips: readonly string[];
}

const WILDCARD_HOSTS = new Set(["0.0.0.0", "::"]);

/**
 * localhost, 127.0.0.1 and ::1 always; the listen host (an IP as an IP name, a hostname as a DNS
 * name); for a wildcard listen address (0.0.0.0, ::) the machine's host name; then VECTO_TLS_NAMES.
 */
export function selfSignedNames(listenHost: string, extra: readonly string[]): CertificateNames {
  const dns = new Set<string>(["localhost"]);
  const ips = new Set<string>(["127.0.0.1", "::1"]);
  const add = (name: string): void => {
    const ip = normalizeAddress(name);
    if (ip !== undefined) ips.add(ip);
    else if (isDnsName(name)) dns.add(name.toLowerCase());
  };
  if (WILDCARD_HOSTS.has(listenHost)) add(hostname());
  else add(listenHost);
  for (const name of extra) add(name);
  for (const wildcard of WILDCARD_HOSTS) ips.delete(wildcard);
  return { dns: [...dns], ips: [...ips] };
}

async function selfSignedPem(names: CertificateNames): Promise<{ cert: string; key: string }> {
  // Loaded here, not with the module: selfsigned and its X.509/ASN.1 libraries cost `vecto serve` about 80 ms at
  // start, and only `init` and `tls renew --self-signed` (or a serve that finds no certificate) make one.
  const { generate } = await import("selfsigned");
  const notBefore = new Date(Date.now() - 5 * 60_000);
  const notAfter = new Date(notBefore.getTime() + VALIDITY_DAYS * DAY_MS);
  const pem = await generate([{ name: "commonName", value: "vecto appliance (self-signed)" }], {
    keyType: "ec",
    curve: "P-256",
    algorithm: "sha256",
    notBeforeDate: notBefore,
    notAfterDate: notAfter,
    extensions: [
      { name: "basicConstraints", cA: false, critical: true },
      { name: "keyUsage", digitalSignature: true, critical: true },
      { name: "extKeyUsage", serverAuth: true },
      {
        name: "subjectAltName",
        altNames: [
          ...names.dns.map((value) => ({ type: 2 as const, value })),
          ...names.ips.map((ip) => ({ type: 7 as const, ip })),
        ],
      },
    ],
  });
  return { cert: pem.cert, key: pem.private };
}

async function ensureDirs(certFile: string, keyFile: string): Promise<void> {
  await mkdir(dirname(keyFile), { recursive: true, mode: 0o700 });
  await mkdir(dirname(certFile), { recursive: true, mode: 0o700 });
}

/** A first self-signed pair; refuses to overwrite either file. */
export async function generateSelfSignedCertificate(
  certFile: string,
  keyFile: string,
  names: CertificateNames,
): Promise<void> {
  const pem = await selfSignedPem(names);
  await ensureDirs(certFile, keyFile);
  await writeNewFile(keyFile, pem.key, 0o600);
  await writeNewFile(certFile, pem.cert, 0o644);
}

/**
 * A new self-signed pair in place of the old one. Each file is replaced atomically (key 0600 from
 * its first byte); the key goes first, so a reload between the two renames sees a mismatched pair
 * and keeps serving the old one (checkTlsPair) rather than a half-new one.
 */
export async function regenerateSelfSignedCertificate(
  certFile: string,
  keyFile: string,
  names: CertificateNames,
): Promise<void> {
  const pem = await selfSignedPem(names);
  await ensureDirs(certFile, keyFile);
  await replaceFile(keyFile, pem.key, 0o600);
  await replaceFile(certFile, pem.cert, 0o644);
}

function summarize(cert: X509Certificate): CertificateSummary {
  return {
    subject: cert.subject.replace(/\n/g, ", "),
    validFrom: new Date(cert.validFrom),
    validTo: new Date(cert.validTo),
    fingerprint256: cert.fingerprint256,
    names: cert.subjectAltName ?? "",
  };
}

/** Summary for `vecto doctor`: no key material, only what an operator needs to judge the certificate. */
export function describeCertificate(pem: Buffer): CertificateSummary {
  return summarize(new X509Certificate(pem));
}

/** Whole days until expiry (negative once expired). */
export function daysLeft(summary: Pick<CertificateSummary, "validTo">, now: Date = new Date()): number {
  return Math.floor((summary.validTo.getTime() - now.getTime()) / DAY_MS);
}

/** The warning to show while within CERT_WARN_DAYS of expiry; null before that. */
export function expiryWarning(summary: Pick<CertificateSummary, "validTo">, now: Date = new Date()): string | null {
  const left = daysLeft(summary, now);
  if (left >= CERT_WARN_DAYS) return null;
  if (summary.validTo.getTime() <= now.getTime())
    return `the TLS certificate expired on ${summary.validTo.toISOString()}; renew it (vecto tls renew)`;
  return (
    `the TLS certificate expires on ${summary.validTo.toISOString()} (${left} days left); ` +
    `renew it (vecto tls renew)`
  );
}

/**
 * The checks a certificate and key pass before the server serves them: the certificate parses,
 * is within its validity period, and the key is the private key of its public key. Throws
 * TlsPairError naming what is wrong (never the key).
 */
export function checkTlsPair(material: TlsMaterial, now: Date = new Date()): CertificateSummary {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(material.cert);
  } catch {
    throw new TlsPairError("the certificate file is not a PEM certificate");
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(material.key);
  } catch {
    throw new TlsPairError("the key file is not a PEM private key (or it is encrypted)");
  }
  const summary = summarize(cert);
  if (!cert.checkPrivateKey(key))
    throw new TlsPairError(`the key does not match the certificate (${summary.subject}, ${summary.fingerprint256})`);
  if (summary.validTo.getTime() <= now.getTime())
    throw new TlsPairError(`the certificate expired on ${summary.validTo.toISOString()} (${summary.subject})`);
  if (summary.validFrom.getTime() > now.getTime())
    throw new TlsPairError(
      `the certificate is not valid before ${summary.validFrom.toISOString()} (${summary.subject})`,
    );
  return summary;
}
