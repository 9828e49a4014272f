/**
 * The TLS files `vecto serve` reads at start and again on reload (SIGHUP, `vecto tls renew`): the
 * server certificate and key, and for mutual TLS the CA certificates that client certificates
 * must chain to (VECTO_TLS_CLIENT_CA). A client CA file that cannot be read, or holds anything but
 * CA certificates, stops start-up with one line.
 */
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { ConfigError, type Config } from "../config.js";
import { checkTlsPair, TlsPairError, type CertificateSummary } from "../crypto/index.js";

export interface TlsFiles {
  readonly cert: Buffer;
  readonly key: Buffer;
  /** PEM CA certificates for client certificates; null: clients are not asked for one. */
  readonly clientCa?: Buffer | null;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;

/** Reads and checks a client CA bundle; returns its subjects for the start-up log and `vecto doctor`. */
export function readClientCa(file: string): { pem: Buffer; subjects: string[] } {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    throw new ConfigError(`VECTO_TLS_CLIENT_CA: cannot read ${file}`);
  }
  const blocks = text.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw new ConfigError(`VECTO_TLS_CLIENT_CA: ${file} holds no PEM certificate`);
  const subjects = blocks.map((block, index) => {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(block);
    } catch {
      throw new ConfigError(`VECTO_TLS_CLIENT_CA: certificate ${index + 1} in ${file} does not parse`);
    }
    if (!cert.ca)
      throw new ConfigError(
        `VECTO_TLS_CLIENT_CA: certificate ${index + 1} in ${file} is not a CA certificate ` +
          `(${cert.subject.replace(/\n/g, ", ")})`,
      );
    return cert.subject.replace(/\n/g, ", ");
  });
  return { pem: Buffer.from(blocks.join("\n"), "utf8"), subjects };
}

export function readTlsFiles(tls: Config["tls"]): TlsFiles {
  return {
    cert: readFileSync(tls.certFile),
    key: readFileSync(tls.keyFile),
    clientCa: tls.clientCaFile === null ? null : readClientCa(tls.clientCaFile).pem,
  };
}

function readOne(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new TlsPairError(`cannot read the ${what} ${file} (${(error as NodeJS.ErrnoException).code ?? "error"})`);
  }
}

/**
 * The files as a reload takes them: readable, the key matching the certificate, the certificate
 * within its validity period, the client CA bundle (if configured) valid. Throws TlsPairError or
 * ConfigError with one line; the server then keeps what it serves.
 */
export function loadCheckedTlsFiles(
  tls: Config["tls"],
  now: Date = new Date(),
): { files: TlsFiles; certificate: CertificateSummary } {
  const cert = readOne(tls.certFile, "certificate");
  const key = readOne(tls.keyFile, "key file");
  let certificate: CertificateSummary;
  try {
    certificate = checkTlsPair({ cert, key }, now);
  } catch (error) {
    throw new TlsPairError(`${(error as Error).message} (${tls.certFile}, ${tls.keyFile})`);
  }
  const clientCa = tls.clientCaFile === null ? null : readClientCa(tls.clientCaFile).pem;
  return { files: { cert, key, clientCa }, certificate };
}
