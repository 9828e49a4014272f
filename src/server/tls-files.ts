/**
 * The TLS files `vecto serve` reads at start: the server certificate and key, and for mutual TLS
 * the CA certificates that client certificates must chain to (VECTO_TLS_CLIENT_CA). A client CA
 * file that cannot be read, or holds anything but CA certificates, stops start-up with one line.
 */
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { ConfigError, type Config } from "../config.js";

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
    if (!cert.ca) throw new ConfigError(`VECTO_TLS_CLIENT_CA: certificate ${index + 1} in ${file} is not a CA certificate (${cert.subject.replace(/\n/g, ", ")})`);
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
