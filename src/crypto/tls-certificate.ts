/**
 * The TLS certificate for the embedded default: a self-signed ECDSA P-256 certificate for
 * localhost/127.0.0.1, created once in the data dir (key file 0600). Operators replace it with
 * their PKI's certificate via VECTO_TLS_CERT/VECTO_TLS_KEY.
 */
import { X509Certificate } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { generate } from "selfsigned";
import { writeNewFile } from "./secret-file.js";

const VALIDITY_DAYS = 825;

export interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
}

export async function generateSelfSignedCertificate(certFile: string, keyFile: string, hostnames: readonly string[]): Promise<void> {
  const notBefore = new Date(Date.now() - 5 * 60_000);
  const notAfter = new Date(notBefore.getTime() + VALIDITY_DAYS * 86_400_000);
  const dnsNames = ["localhost", ...hostnames.filter((h) => !/^[\d.]+$/.test(h) && h !== "localhost")];
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
        altNames: [...dnsNames.map((value) => ({ type: 2 as const, value })), { type: 7, ip: "127.0.0.1" }, { type: 7, ip: "::1" }],
      },
    ],
  });
  await mkdir(dirname(keyFile), { recursive: true, mode: 0o700 });
  await mkdir(dirname(certFile), { recursive: true, mode: 0o700 });
  await writeNewFile(keyFile, pem.private, 0o600);
  await writeNewFile(certFile, pem.cert, 0o644);
}

/** Summary for `vecto doctor`: no key material, only what an operator needs to judge the certificate. */
export function describeCertificate(pem: Buffer): { subject: string; validTo: Date; validFrom: Date; fingerprint256: string } {
  const cert = new X509Certificate(pem);
  return { subject: cert.subject, validFrom: new Date(cert.validFrom), validTo: new Date(cert.validTo), fingerprint256: cert.fingerprint256 };
}
